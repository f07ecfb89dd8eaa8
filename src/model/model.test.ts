/**
 * Model tests: gradients of every parameter kind against central finite differences (float64,
 * packed batch of sequences of different lengths), and KV-cache prefill/decode against a full
 * forward, for single and batched decode.
 */
import { describe, expect, test } from "vitest";
import { referenceKernels } from "../tensor/reference.ts";
import type { ModelConfig } from "./config.ts";
import { Model, packBatch } from "./model.ts";
import { Rng } from "./rng.ts";
import { randomizeParams, tinyConfig } from "./testing.ts";

const seqs = [
  [3, 5, 8, 13, 21],
  [89, 144, 999_999, 3], // 999_999 is not in the compact vocab: reads as the unknown row
  [55, 34, 21, 8, 5, 3, 144],
];

function gradCheck(
  cfg: ModelConfig,
  withEntropy: boolean,
  batchSeqs: number[][] = seqs,
  temperature = 1,
  logitChunkRows?: number,
): Map<string, number> {
  const model = new Model(cfg, { kernels: referenceKernels, dtype: "float64", logitChunkRows });
  randomizeParams(model, 1);
  const batch = packBatch(batchSeqs);
  const n = batch.tokens.length;
  const rng = new Rng(2);
  const wl = new Float64Array(n).map(() => rng.normal());
  const we = new Float64Array(n).map(() => (withEntropy ? rng.normal() : 0));
  const loss = () => {
    const { logp, entropy } = model.forward(batch, temperature);
    let s = 0;
    for (let i = 0; i < n; i++) s += wl[i] * logp[i] + we[i] * entropy[i];
    return s;
  };
  loss();
  model.zeroGrad();
  model.backward(wl, withEntropy ? we : null);
  const flat = model.params.flat;
  const grad = model.grads.flat;
  const worst = new Map<string, number>();
  const h = 1e-5;
  for (const s of model.specs) {
    let w = 0;
    for (let i = s.offset; i < s.offset + s.size; i++) {
      const x0 = flat[i];
      flat[i] = x0 + h;
      const fp = loss();
      flat[i] = x0 - h;
      const fm = loss();
      flat[i] = x0;
      const num = (fp - fm) / (2 * h);
      w = Math.max(w, Math.abs(num - grad[i]) / Math.max(1, Math.abs(num)));
    }
    worst.set(s.name, w);
  }
  return worst;
}

function expectAllSmall(worst: Map<string, number>, kinds: string[]): void {
  for (const kind of kinds) expect([...worst.keys()].some((k) => k.includes(kind)), kind).toBe(true);
  for (const [name, w] of worst) expect(w, name).toBeLessThan(1e-6);
}

describe("gradients match finite differences (float64, packed batch of 3 sequences)", () => {
  const allKinds = [
    "embed_tokens",
    "input_layernorm",
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "q_norm",
    "k_norm",
    "post_attention_layernorm",
    "gate_proj",
    "up_proj",
    "down_proj",
    "model.norm",
  ];

  test("qwen3, untied head, logp + entropy", () => {
    expectAllSmall(gradCheck(tinyConfig(), true), [...allKinds, "lm_head"]);
  });

  test("qwen3, untied head, logp + entropy of softmax(logits / 0.7) (RL scoring at the sampling temperature)", () => {
    expectAllSmall(gradCheck(tinyConfig(), true, seqs, 0.7), [...allKinds, "lm_head"]);
  });

  test("qwen3, untied head, logp + entropy at T = 0.7, LM head in 2-row chunks (recomputed in backward)", () => {
    expectAllSmall(gradCheck(tinyConfig(), true, seqs, 0.7, 2), [...allKinds, "lm_head"]);
  });

  test("qwen3, tied head, logp only", () => {
    const worst = gradCheck(tinyConfig({ tie_word_embeddings: true }), false);
    expect(worst.has("lm_head.weight")).toBe(false);
    expectAllSmall(worst, allKinds);
  });

  test("llama (no QK-norm), full vocabulary, MHA", () => {
    const cfg = tinyConfig({
      model_type: "llama",
      gymrl_vocab_map: null,
      vocab_size: 150,
      num_hidden_layers: 1,
      num_key_value_heads: 4,
    });
    const worst = gradCheck(cfg, true, [[3, 5, 8, 13, 21], [89, 144, 3], [55, 34, 21, 8, 5, 3, 144]]);
    expect([...worst.keys()].some((k) => k.includes("_norm."))).toBe(false);
    expectAllSmall(worst, allKinds.filter((k) => !k.endsWith("_norm")));
  });

  test("the checker fails on a wrong gradient", () => {
    // a model whose backward is perturbed must be caught: scale one gradient and compare
    const cfg = tinyConfig({ num_hidden_layers: 1 });
    const model = new Model(cfg, { kernels: referenceKernels, dtype: "float64" });
    randomizeParams(model, 3);
    const batch = packBatch(seqs);
    const n = batch.tokens.length;
    const w = new Float64Array(n).fill(1);
    model.forward(batch);
    model.zeroGrad();
    model.backward(w);
    const i = model.specs.find((s) => s.name.endsWith("q_norm.weight"))!.offset;
    const analytic = model.grads.flat[i] * 1.01;
    const flat = model.params.flat;
    const f = () => Array.from(model.forward(batch).logp).reduce((a, b) => a + b, 0);
    const x0 = flat[i];
    flat[i] = x0 + 1e-5;
    const fp = f();
    flat[i] = x0 - 1e-5;
    const fm = f();
    flat[i] = x0;
    const num = (fp - fm) / 2e-5;
    expect(Math.abs(num - analytic) / Math.max(1, Math.abs(num))).toBeGreaterThan(1e-6);
  });
});

describe("chunked LM head (lm-head.ts)", () => {
  // a full vocabulary, so the head is the largest matmul, as at real size
  const cfg = tinyConfig({ gymrl_vocab_map: null, vocab_size: 160, tie_word_embeddings: true });
  const batchSeqs = [
    [3, 5, 8, 13, 21, 34, 55],
    [89, 144, 3],
    [55, 34, 21, 8, 5, 3, 144, 89, 2],
  ];

  function run(logitChunkRows: number | undefined, temperature: number) {
    const model = new Model(cfg, { kernels: referenceKernels, logitChunkRows });
    randomizeParams(model, 9);
    const batch = packBatch(batchSeqs);
    const n = batch.tokens.length;
    const rng = new Rng(4);
    // zeros mimic GRPO's masked prompt rows
    const dlogp = Float32Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 0 : rng.normal()));
    const dent = Float32Array.from({ length: n }, () => rng.normal());
    const { logp, entropy } = model.forward(batch, temperature);
    const out = { logp: Float32Array.from(logp), entropy: Float32Array.from(entropy), logitFloats: model.logitFloats };
    model.zeroGrad();
    model.backward(dlogp, dent);
    return { ...out, model, grads: Float32Array.from(model.grads.flat) };
  }

  test.each([1, 0.6])("float32, T = %s: chunks of 3 rows give the unchunked logp, entropy and gradients", (T) => {
    const whole = run(undefined, T);
    const chunked = run(3, T);
    const n = batchSeqs.flat().length;
    expect(whole.logitFloats).toBe((n - batchSeqs.length) * 160); // every row with a target at once
    expect(chunked.logitFloats).toBe(3 * 160);
    // each row's logits are the same operations on the same inputs: bit-identical
    expect(Array.from(chunked.logp)).toEqual(Array.from(whole.logp));
    expect(Array.from(chunked.entropy)).toEqual(Array.from(whole.entropy));
    // only dW's sum over rows is split into partial sums (tied: the embedding's gradient)
    let worst = 0;
    for (let i = 0; i < whole.grads.length; i++)
      worst = Math.max(worst, Math.abs(chunked.grads[i] - whole.grads[i]) / Math.max(1e-3, Math.abs(whole.grads[i])));
    expect(worst).toBeLessThan(1e-5);
    const layersStart = whole.model.specs.find((s) => s.name.startsWith("model.layers."))!.offset;
    expect(Array.from(chunked.grads.subarray(layersStart))).toEqual(Array.from(whole.grads.subarray(layersStart)));
  });
});

describe("KV cache", () => {
  function fullLogits(model: Model, seq: number[]): Float64Array[] {
    // logits of each position, via a fresh cache prefilled one prefix at a time is circular;
    // instead score every vocab row as target through the packed forward: logp + lse = logit
    const out: Float64Array[] = [];
    const V = model.vocab.size;
    for (let t = 0; t < seq.length; t++) {
      const row = new Float64Array(V);
      const prefix = seq.slice(0, t + 1);
      for (let r = 0; r < V; r++) {
        const batch = packBatch([prefix]);
        batch.targets[t] = model.vocab.rowToId[r];
        row[r] = model.forward(batch).logp[t];
      }
      out.push(row);
    }
    return out;
  }

  function logSoftmax(x: ArrayLike<number>): Float64Array {
    let m = -Infinity;
    for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]);
    let s = 0;
    for (let i = 0; i < x.length; i++) s += Math.exp(x[i] - m);
    const l = m + Math.log(s);
    return Float64Array.from(x, (v) => v - l);
  }

  test("prefill + decode equal the packed forward (single sequence)", () => {
    const model = new Model(tinyConfig(), { kernels: referenceKernels, dtype: "float64" });
    randomizeParams(model, 4);
    const seq = [3, 5, 999, 13, 21, 34];
    const want = fullLogits(model, seq);
    const cache = model.createKVCache(2, 16);
    const V = model.vocab.size;
    let got = logSoftmax(model.prefill(cache, 1, seq.slice(0, 2)));
    for (let r = 0; r < V; r++) expect(got[r]).toBeCloseTo(want[1][r], 10);
    for (let t = 2; t < seq.length; t++) {
      got = logSoftmax(model.decodeStep(cache, [1], [seq[t]]));
      for (let r = 0; r < V; r++) expect(got[r]).toBeCloseTo(want[t][r], 10);
    }
    expect(cache.lengths[1]).toBe(seq.length);
    expect(cache.lengths[0]).toBe(0);
  });

  test("batched decode over slots of different lengths equals per-sequence forwards", () => {
    const model = new Model(tinyConfig({ tie_word_embeddings: true }), { kernels: referenceKernels, dtype: "float64" });
    randomizeParams(model, 5);
    const seqA = [3, 5, 8, 13, 21, 34, 55];
    const seqB = [144, 89, 55];
    const seqC = [21, 21, 21, 21, 3];
    const wants = [seqA, seqB, seqC].map((s) => fullLogits(model, s));
    const cache = model.createKVCache(4, 12);
    const slots = [2, 0, 3];
    // prefill all but the last two tokens of each, in one batched call
    const pre = [seqA, seqB, seqC].map((s) => s.slice(0, s.length - 2));
    const V = model.vocab.size;
    const preLogits = model.prefillBatch(cache, slots, pre);
    pre.forEach((p, i) => {
      const got = logSoftmax(preLogits.subarray(i * V, (i + 1) * V));
      for (let r = 0; r < V; r++) expect(got[r]).toBeCloseTo(wants[i][p.length - 1][r], 10);
    });
    // two batched decode steps, all three sequences at once
    for (let step = 0; step < 2; step++) {
      const toks = [seqA, seqB, seqC].map((s) => s[s.length - 2 + step]);
      const logits = model.decodeStep(cache, slots, toks);
      [seqA, seqB, seqC].forEach((s, i) => {
        const got = logSoftmax(logits.subarray(i * V, (i + 1) * V));
        for (let r = 0; r < V; r++) expect(got[r]).toBeCloseTo(wants[i][s.length - 2 + step][r], 10);
      });
    }
    expect(() => model.decodeStep(cache, [0, 0], [3, 5])).toThrow(/twice/);
  });

  test("a copied slot decodes like the original", () => {
    const model = new Model(tinyConfig(), { kernels: referenceKernels, dtype: "float64" });
    randomizeParams(model, 6);
    const cache = model.createKVCache(3, 10);
    model.prefill(cache, 0, [3, 5, 8]);
    cache.copySlot(0, 2);
    const both = Float64Array.from(model.decodeStep(cache, [0, 2], [13, 13])); // a copy: the result is a reused view
    const V = model.vocab.size;
    for (let r = 0; r < V; r++) expect(both[V + r]).toBe(both[r]);
    expect(cache.lengths[2]).toBe(4);
    cache.truncate(2, 3);
    expect(Array.from(model.decodeStep(cache, [2], [13]))).toEqual(Array.from(both.subarray(0, V)));
  });

  test("copies within a pass (prefix caching): positions the same pass computes seed other slots", () => {
    const model = new Model(tinyConfig(), { kernels: referenceKernels });
    randomizeParams(model, 7);
    const V = model.vocab.size;
    const a = [3, 5, 8, 13, 21, 34];
    const b = [3, 5, 8, 13, 55, 89, 144];
    // reference: each sequence prefilled alone
    const alone = model.createKVCache(2, 12);
    const wantA = Float32Array.from(model.prefill(alone, 0, a));
    const wantB = Float32Array.from(model.prefill(alone, 1, b));
    // one pass: slot 1 computes a's 6 rows; slot 0 copies b's shared 4 positions from it and
    // computes the other 3; slot 2 copies 2 positions from slot 0 that were copied in this pass
    const cache = model.createKVCache(3, 12);
    const copies = [
      { src: 1, dst: 0, start: 0, end: 4 },
      { src: 0, dst: 2, start: 0, end: 2 },
    ];
    const got = model.prefillBatch(cache, [1, 0, 2], [a, b.slice(4), [8, 13]], copies);
    expect(Array.from(got.subarray(0, V))).toEqual(Array.from(wantA));
    expect(Array.from(got.subarray(V, 2 * V))).toEqual(Array.from(wantB));
    expect(Array.from(cache.lengths)).toEqual([7, 6, 4]);
    for (let l = 0; l < model.dims.l; l++) {
      const row = model.dims.hkv * model.dims.d;
      expect(Array.from(cache.k[l].subarray(0, 7 * row))).toEqual(Array.from(alone.k[l].subarray(12 * row, 19 * row)));
    }
    // positions nobody holds yet, or a copy that does not extend its destination, are refused
    const fresh = model.createKVCache(3, 12);
    expect(() => model.prefillBatch(fresh, [0], [[3]], [{ src: 1, dst: 0, start: 0, end: 2 }])).toThrow(/reads past/);
    expect(() => model.prefillBatch(fresh, [0, 1], [a, [5]], [{ src: 0, dst: 1, start: 1, end: 3 }])).toThrow(/does not extend/);
  });

  test("the unknown row is never a head output", () => {
    const model = new Model(tinyConfig(), { kernels: referenceKernels });
    expect(model.vocab.size).toBe(9);
    expect(model.vocab.has(999)).toBe(false);
    expect(model.vocab.inputRow(999)).toBe(9);
    const cache = model.createKVCache(1, 8);
    expect(model.prefill(cache, 0, [999, 3]).length).toBe(9);
  });
});
