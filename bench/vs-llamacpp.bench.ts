/**
 * gymrl's embedded engine against llama.cpp (node-llama-cpp 3.21.1, prebuilt CPU binary) on the
 * same weights: a random-weight Qwen3-architecture checkpoint with the real Qwen3 tokenizer, built
 * here (no weights can be downloaded), saved as safetensors and exported by `exportGguf` to F32
 * GGUF. Same prompts (Qwen3 token ids), same 2 threads (OpenBLAS on this 2-core machine; llama.cpp
 * `threads: 2`), greedy decoding, F32 keys/values in llama.cpp (its default is F16), no flash attention.
 *  - c1: one sequence; c8, c32: 8 or 32 sequences at once (llama.cpp: as many context sequences,
 *    which node-llama-cpp decodes together in one llama_batch). Decode tokens/s counts the tokens
 *    after the last sequence's first token over the time since then, so prefill is not in it.
 *  - prefill: one long prompt, tokens/s up to its first token.
 *  - identity: 8 prompts × --identity-gen greedy tokens, gymrl with the 8 at once, llama.cpp one
 *    sequence at a time; where the tokens differ, the first differing position and both engines'
 *    top-2 logit margins there (llama.cpp's from its temperature-1 probabilities: ln p1 − ln p2).
 *    llama.cpp one at a time because its multi-sequence decode is not reproducible run to run here
 *    (a batch's composition depends on timing, and some compositions change tokens even at clear
 *    margins): `llamacpp_c8_sequences_as_single` counts the c8 sequences that match its own
 *    one-at-a-time tokens.
 * Weights are N(0, --scale²) (norms 1 + N(0, 0.3²)): with gymrl's small init the next-token
 * distribution of a random model is nearly flat and greedy ties would be decided by rounding.
 * The checkpoint and GGUF are cached in --dir by config. The machine's 2 cores are shared: figures
 * are medians of rounds and the ratios are what to compare.
 * Last line (JSON): gymrl_c1, llamacpp_c1, gymrl_c8, llamacpp_c8, gymrl_c32, llamacpp_c32, ratio_c1,
 * ratio_c32, gymrl_prefill, llamacpp_prefill, prefill_ratio, greedy_tokens_identical (+ details).
 * Run: npm run bench:vs-llamacpp [-- --hidden 512 --layers 8 --gen 64 --prefill 1024 --rounds 3]
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { getLlama, type LlamaModel, LlamaLogLevel, type Token } from "node-llama-cpp";

import { createEmbeddedEngine, type EmbeddedEngine } from "../src/engine/embedded-engine.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { exportGguf } from "../src/model/gguf/index.ts";
import { loadModel, Model, saveCheckpoint } from "../src/model/index.ts";
import { randomizeParams } from "../src/model/testing.ts";
import { getKernels } from "../src/tensor/index.ts";
import { loadQwen3Tokenizer, qwen3TokenizerDir } from "../src/tokenizer/index.ts";

const { values } = parseArgs({
  options: {
    hidden: { type: "string", default: "512" },
    layers: { type: "string", default: "8" },
    gen: { type: "string", default: "64" },
    "identity-gen": { type: "string", default: "256" },
    prefill: { type: "string", default: "1024" },
    rounds: { type: "string", default: "3" },
    scale: { type: "string", default: "0.5" },
    dir: { type: "string", default: join(tmpdir(), "gymrl-bench-vs-llamacpp") },
  },
});
const hidden = Number(values.hidden);
const gen = Number(values.gen);
const identityGen = Number(values["identity-gen"]);
const prefillLen = Number(values.prefill);
const rounds = Number(values.rounds);
const THREADS = 2;
const QWEN3_VOCAB = 151669;

// Qwen3's proportions at a CPU size: head_dim 64, 2 queries per KV head, SwiGLU ≈ 2.75 × hidden, tied head
const cfg: ModelConfig = {
  model_type: "qwen3",
  hidden_size: hidden,
  intermediate_size: Math.round((hidden * 2.75) / 64) * 64,
  num_hidden_layers: Number(values.layers),
  num_attention_heads: hidden / 64,
  num_key_value_heads: hidden / 128,
  head_dim: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 1_000_000,
  vocab_size: QWEN3_VOCAB,
  tie_word_embeddings: true,
  max_position_embeddings: Math.max(prefillLen, 64 + identityGen) + 64,
};
const maxLen = cfg.max_position_embeddings;

// --- the weights, once per config ---
const tag = `q3-h${hidden}-l${cfg.num_hidden_layers}-f${cfg.intermediate_size}-p${maxLen}-s${values.scale}`;
const ckpt = join(values.dir, tag);
const ggufPath = join(values.dir, `${tag}.f32.gguf`);
if (!existsSync(ggufPath)) {
  mkdirSync(values.dir, { recursive: true });
  const t0 = performance.now();
  const m = new Model(cfg, { kernels: getKernels(), dtype: "float32" });
  randomizeParams(m, 2026, Number(values.scale));
  saveCheckpoint(ckpt, m, undefined, undefined, { auxFrom: qwen3TokenizerDir() });
  exportGguf(ckpt, ggufPath, { dtype: "f32" });
  writeFileSync(join(values.dir, `${tag}.json`), JSON.stringify(cfg) + "\n");
  console.log(`built ${ckpt} and ${ggufPath} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
const params = 2 * cfg.hidden_size * (cfg.num_attention_heads + cfg.num_key_value_heads) * 64 + 3 * cfg.hidden_size * cfg.intermediate_size;
console.log(
  `model: qwen3 hidden ${hidden}, ${cfg.num_hidden_layers} layers, FFN ${cfg.intermediate_size}, ${cfg.num_attention_heads}/${cfg.num_key_value_heads} heads × 64, ` +
    `vocab ${QWEN3_VOCAB} tied; ${((params * cfg.num_hidden_layers + QWEN3_VOCAB * hidden) / 1e6).toFixed(1)}M parameters, F32`,
);

// --- prompts: real text through the Qwen3 tokenizer ---
const tok = loadQwen3Tokenizer();
const TEXTS = [
  "The history of the printing press begins",
  "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
  "<|im_start|>user\nWhat is 17 * 23?<|im_end|>\n<|im_start|>assistant\n",
  "In a small village at the edge of the forest, there lived",
  "Photosynthesis converts light energy into",
  "SELECT name, COUNT(*) FROM orders GROUP BY",
  "Les montagnes de la Suisse sont",
  "The three laws of thermodynamics state that",
];
const prompts8 = TEXTS.map((t) => tok.encode(t));
const prompts32 = Array.from({ length: 32 }, (_, i) => tok.encode(`${TEXTS[i % 8]} (${i})`));
const longPrompt: number[] = [];
for (let i = 0; longPrompt.length < prefillLen; i++) longPrompt.push(...tok.encode(`${TEXTS[i % 8]} ${i}. `));
longPrompt.length = prefillLen;

interface Run {
  tokens: number[][];
  decodeTps: number;
  /** seconds from start to the last sequence's first token */
  firstTokenS: number;
}

/** Decode rate over the lock-step part: tokens after the last first token, over the time since it. */
function summarize(stamps: number[][], t0: number, tokens: number[][]): Run {
  const lastFirst = Math.max(...stamps.map((s) => s[0]));
  const end = Math.max(...stamps.map((s) => s[s.length - 1]));
  const after = stamps.reduce((a, s) => a + s.filter((t) => t > lastFirst).length, 0);
  return { tokens, decodeTps: after / ((end - lastFirst) / 1000), firstTokenS: (lastFirst - t0) / 1000 };
}

// --- gymrl ---
async function gymrlRun(engine: EmbeddedEngine, prompts: number[][], n: number): Promise<Run> {
  const stamps = prompts.map(() => [] as number[]);
  const t0 = performance.now();
  const results = await Promise.all(
    prompts.map((p, i) =>
      engine.generate(
        { promptTokenIds: p, sampling: { temperature: 0, topP: 1, topK: 0, seed: 0 }, maxTokens: n, stopTokenIds: [] },
        { onToken: () => stamps[i].push(performance.now()) },
      ),
    ),
  );
  return summarize(stamps, t0, results.map((r) => r.generationTokenIds));
}

// --- llama.cpp ---
const llama = await getLlama({ gpu: false, build: "never", progressLogs: false, logLevel: LlamaLogLevel.error });
const llamaModel: LlamaModel = await llama.loadModel({ modelPath: ggufPath });
type LlamaContext = Awaited<ReturnType<LlamaModel["createContext"]>>;
type LlamaSequence = ReturnType<LlamaContext["getSequence"]>;
/** One context per sequence count, its sequences reused (history cleared) across rounds. */
const contexts = new Map<string, { ctx: LlamaContext; seqs: LlamaSequence[] }>();
async function sequencesFor(n: number, threads = THREADS): Promise<LlamaSequence[]> {
  let c = contexts.get(`${n}/${threads}`);
  if (!c) {
    const ctx = await llamaModel.createContext({
      sequences: n,
      contextSize: maxLen,
      batchSize: 512,
      threads: { ideal: threads, min: threads },
      flashAttention: false,
      experimentalKvCacheKeyType: "F32",
      experimentalKvCacheValueType: "F32",
    });
    c = { ctx, seqs: Array.from({ length: n }, () => ctx.getSequence()) };
    contexts.set(`${n}/${threads}`, c);
  }
  for (const s of c.seqs) await s.clearHistory();
  return c.seqs;
}

async function llamaRun(prompts: number[][], n: number, threads = THREADS): Promise<Run> {
  const seqs = await sequencesFor(prompts.length, threads);
  const stamps = prompts.map(() => [] as number[]);
  const t0 = performance.now();
  const tokens = await Promise.all(
    prompts.map(async (p, i) => {
      const out: number[] = [];
      for await (const t of seqs[i].evaluate(p as Token[], { temperature: 0, yieldEogToken: true })) {
        stamps[i].push(performance.now());
        out.push(t);
        if (out.length >= n) break;
      }
      return out;
    }),
  );
  return summarize(stamps, t0, tokens);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
async function measure(label: string, n: number, f: () => Promise<Run>): Promise<Run & { tps: number }> {
  await f(); // warm-up: buffers sized, pages touched
  const runs: Run[] = [];
  for (let i = 0; i < n; i++) runs.push(await f());
  const tps = median(runs.map((r) => r.decodeTps));
  console.log(`${label.padEnd(22)} ${tps.toFixed(1).padStart(8)} tokens/s (median of ${n})`);
  return { ...runs[0], tps };
}

const engine = await createEmbeddedEngine({ modelDir: ckpt, slots: 32, maxModelLen: maxLen, maxBatchTokens: 512, prefixCaching: false });
console.log(`gymrl kernels: ${engine.kernels}; llama.cpp: node-llama-cpp ${llama.buildType} CPU binary, ${THREADS} threads`);

const g1 = await measure("gymrl c1", rounds, () => gymrlRun(engine, [prompts8[0]], gen));
const l1 = await measure("llama.cpp c1", rounds, () => llamaRun([prompts8[0]], gen));
const g8 = await measure("gymrl c8", Math.max(1, rounds - 1), () => gymrlRun(engine, prompts8, gen));
const l8 = await measure("llama.cpp c8", Math.max(1, rounds - 1), () => llamaRun(prompts8, gen));
const g32 = await measure("gymrl c32", Math.max(1, rounds - 1), () => gymrlRun(engine, prompts32, gen));
const l32 = await measure("llama.cpp c32", Math.max(1, rounds - 1), () => llamaRun(prompts32, gen));

// prefill: time to the first token of one long prompt
const prefillRate = (r: Run) => prefillLen / r.firstTokenS;
const gp: number[] = [];
const lp: number[] = [];
for (let i = 0; i <= rounds; i++) {
  const g = prefillRate(await gymrlRun(engine, [longPrompt], 1));
  const l = prefillRate(await llamaRun([longPrompt], 1));
  if (i === 0) continue; // round 0 warms up
  gp.push(g);
  lp.push(l);
}
const gPrefill = median(gp);
const lPrefill = median(lp);
console.log(`prefill ${prefillLen} tokens: gymrl ${gPrefill.toFixed(0)} tokens/s, llama.cpp ${lPrefill.toFixed(0)} tokens/s`);

// identity: gymrl with the 8 prompts at once; llama.cpp one at a time (one thread: the same
// results, since each dot product is one thread's, and no spinning thread pool on a loaded machine)
const gi = await gymrlRun(engine, prompts8, identityGen);
const li: Run = { tokens: [], decodeTps: NaN, firstTokenS: NaN };
for (const p of prompts8) li.tokens.push((await llamaRun([p], identityGen, 1)).tokens[0]);
await engine.close();
const asSingle = l8.tokens.filter((t, i) => t.every((x, j) => x === li.tokens[i][j])).length;
console.log(`llama.cpp c8: ${asSingle} of 8 sequences match its one-at-a-time greedy tokens`);

let identical = true;
let firstDiff: Record<string, unknown> | null = null;
let compared = 0;
for (let i = 0; i < prompts8.length; i++) {
  const a = gi.tokens[i];
  const b = li.tokens[i];
  const n = Math.min(a.length, b.length);
  let j = 0;
  while (j < n && a[j] === b[j]) j++;
  compared += j;
  if (j === n && a.length === b.length) continue;
  identical = false;
  if (firstDiff) continue;
  const prefix = [...prompts8[i], ...a.slice(0, j)];
  // gymrl's logits there, in this thread
  const m = loadModel(ckpt, { kernels: getKernels() });
  const logits = m.prefill(m.createKVCache(1, prefix.length), 0, prefix);
  const top = Array.from(logits).sort((x, y) => y - x);
  // llama.cpp's: temperature-1 probabilities of the next token, unfiltered
  const [seq] = await sequencesFor(1, 1);
  let llamaMargin = NaN;
  for await (const out of seq.evaluateWithMetadata(prefix as Token[], { probabilities: true }, { temperature: 1, topK: 0, topP: 1, minP: 0 })) {
    const ps = [...out.probabilities.values()].sort((x, y) => y - x);
    llamaMargin = Math.log(ps[0]) - Math.log(ps[1]);
    break;
  }
  firstDiff = { prompt: i, position: j, gymrl_token: a[j], llamacpp_token: b[j], gymrl_top2_margin: top[0] - top[1], llamacpp_top2_margin: llamaMargin };
  console.log(`first difference: prompt ${i}, generated position ${j}: gymrl ${a[j]}, llama.cpp ${b[j]}; top-2 margins gymrl ${top[0] - top[1]}, llama.cpp ${llamaMargin}`);
}
console.log(`greedy tokens ${identical ? "identical" : "differ"}: ${compared} of ${prompts8.length * identityGen} positions agree before any difference`);
for (const c of contexts.values()) await c.ctx.dispose();
await llamaModel.dispose();

const r = (x: number, d = 1) => Number(x.toFixed(d));
console.log(
  JSON.stringify({
    gymrl_c1: r(g1.tps),
    llamacpp_c1: r(l1.tps),
    gymrl_c8: r(g8.tps),
    llamacpp_c8: r(l8.tps),
    llamacpp_c8_sequences_as_single: asSingle,
    gymrl_c32: r(g32.tps),
    llamacpp_c32: r(l32.tps),
    ratio_c1: r(g1.tps / l1.tps, 2),
    ratio_c32: r(g32.tps / l32.tps, 2),
    gymrl_prefill: r(gPrefill),
    llamacpp_prefill: r(lPrefill),
    prefill_ratio: r(gPrefill / lPrefill, 2),
    greedy_tokens_identical: identical,
    identity: { prompts: prompts8.length, tokens_each: identityGen, first_difference: firstDiff },
    config: { hidden, layers: cfg.num_hidden_layers, ffn: cfg.intermediate_size, vocab: QWEN3_VOCAB, gen, prefill: prefillLen, threads: THREADS, dtype: "f32", kernels: engine.kernels },
  }),
);
