/**
 * The embedded PolicyTrainer: its logprobs are Model.forward's, shifted to token alignment; a
 * train step on a fixed batch lowers the clipped PG loss; and with the engine on the shared buffer
 * a train step is a refit: the policy version goes up and the engine's outputs change.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { allocSharedParams, createEmbeddedEngine } from "../../src/engine/embedded-engine.ts";
import { TINY_IDS, tinyEngineConfig, tinyModel } from "../../src/engine/testing.ts";
import { clippedPgLoss } from "../../src/grpo/loss.ts";
import { EmbeddedTrainer, microBatches, type TrainBatch } from "../../src/grpo/trainer.ts";
import { saveCheckpoint } from "../../src/model/checkpoint.ts";
import { Model, packBatch } from "../../src/model/model.ts";
import { referenceKernels } from "../../src/tensor/index.ts";

const kernels = referenceKernels;
const config = tinyEngineConfig();
const NO_KL = { referencePolicyKlPenalty: 0 };
const tmp = mkdtempSync(join(tmpdir(), "gymrl-trainer-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Three sequences of tiny-vocabulary ids: a prompt (mask 0) then generated tokens (mask 1). */
function fixedBatch(): TrainBatch {
  const seqs = [
    { prompt: [2, 3, 5], gen: [7, 11, 13, 17], adv: 1 },
    { prompt: [2, 3], gen: [19, 23, 29], adv: -1 },
    { prompt: [5, 7, 11, 13], gen: [31, 37, 2, 3, 5], adv: 0.5 },
  ];
  const tokens: number[] = [];
  const mask: number[] = [];
  const adv: number[] = [];
  const offsets = [0];
  for (const s of seqs) {
    for (const t of s.prompt) {
      tokens.push(t);
      mask.push(0);
      adv.push(0);
    }
    for (const t of s.gen) {
      tokens.push(t);
      mask.push(1);
      adv.push(s.adv);
    }
    offsets.push(tokens.length);
  }
  const N = tokens.length;
  return {
    tokens: Int32Array.from(tokens),
    seqOffsets: Int32Array.from(offsets),
    tokenMask: Float64Array.from(mask),
    sampleMask: new Float64Array(seqs.length).fill(1),
    generationLogprobs: new Float64Array(N),
    advantages: Float64Array.from(adv),
  };
}

describe("EmbeddedTrainer", () => {
  test("logprobs equal Model.forward's, token-aligned, whatever the micro-batching", () => {
    const model = tinyModel(kernels, 3);
    const batch = fixedBatch();
    const seqs = [...Array(3).keys()].map((s) => Array.from(batch.tokens.subarray(batch.seqOffsets[s], batch.seqOffsets[s + 1])));
    const ref = new Model(config, { kernels, params: Float32Array.from(model.params.flat) });
    for (const microBatchTokens of [1, 8, 4096]) {
      const { logprobs, entropy } = new EmbeddedTrainer({ model, microBatchTokens }).logprobsSync(batch);
      seqs.forEach((seq, s) => {
        const f = ref.forward(packBatch([seq]));
        const o = batch.seqOffsets[s];
        expect(logprobs[o]).toBe(0);
        for (let t = 1; t < seq.length; t++) {
          expect(logprobs[o + t]).toBeCloseTo(f.logp[t - 1], 6);
          expect(entropy[o + t]).toBeCloseTo(f.entropy[t - 1], 6);
        }
      });
    }
    expect(microBatches(batch.seqOffsets, 8)).toEqual([[0, 1], [1, 2], [2, 3]]);
    expect(microBatches(batch.seqOffsets, 13)).toEqual([[0, 2], [2, 3]]);
  });

  test("a train step on a fixed batch lowers the loss (and the gradient does not depend on micro-batching)", async () => {
    const losses: number[][] = [];
    for (const microBatchTokens of [4096, 8]) {
      const model = tinyModel(kernels, 5);
      const trainer = new EmbeddedTrainer({ model, microBatchTokens, adamw: { weightDecay: 0 } });
      const batch = fixedBatch();
      const prev = trainer.logprobsSync(batch).logprobs;
      batch.prevLogprobs = prev;
      batch.generationLogprobs = prev.map((x, t) => (batch.tokenMask[t] ? x : 0));
      const lossAt = () => clippedPgLoss({ ...batch, currLogprobs: trainer.logprobsSync(batch).logprobs }, NO_KL).loss;
      const seq: number[] = [lossAt()];
      for (let k = 0; k < 3; k++) {
        const r = await trainer.trainStep(batch, NO_KL, { lr: 1e-3 });
        expect(r.metrics.tokenMultProbError).toBeCloseTo(1, 6); // gen = prev here
        seq.push(lossAt());
      }
      losses.push(seq);
      // strictly down while the ratios are inside the clip range; the clip can only hold it flat after
      expect(seq[1]).toBeLessThan(seq[0]);
      for (let k = 2; k < seq.length; k++) expect(seq[k]).toBeLessThanOrEqual(seq[k - 1] + 1e-12);
    }
    // same batch, same init: one micro-batch or one per sequence give the same steps
    losses[0].forEach((l, k) => expect(losses[1][k]).toBeCloseTo(l, 5));
  });

  test("refit: the optimizer step goes through the engine, bumps its version and changes its outputs", async () => {
    const init = tinyModel(kernels, 7);
    const shared = allocSharedParams(init.numParams);
    shared.set(init.params.flat);
    const model = new Model(config, { kernels, params: shared });
    const engine = await createEmbeddedEngine({ config, sharedParams: shared, slots: 4, kernels: "reference", thread: "main" });
    try {
      const trainer = new EmbeddedTrainer({ model, commit: (write) => engine.updateWeights({ kind: "shared", write }) });
      const req = { promptTokenIds: [2, 3, 5], sampling: { temperature: 0, topP: 1, topK: 0 }, maxTokens: 6, stopTokenIds: [] };
      const before = await engine.generate(req);
      expect(before.policyVersion).toBe(0);
      const batch = fixedBatch();
      // push up exactly what the engine generated, hard
      const gen = [2, 3, 5, ...before.generationTokenIds];
      batch.tokens = Int32Array.from(gen);
      batch.seqOffsets = Int32Array.from([0, gen.length]);
      batch.tokenMask = Float64Array.from(gen.map((_, i) => (i >= 3 ? 1 : 0)));
      batch.sampleMask = Float64Array.from([1]);
      batch.advantages = Float64Array.from(gen.map((_, i) => (i >= 3 ? -1 : 0)));
      batch.generationLogprobs = Float64Array.from(gen.map((_, i) => (i >= 3 ? before.generationLogProbs[i - 3] : 0)));
      const r = await trainer.trainStep(batch, NO_KL, { lr: 0.05 });
      // the engine's own logprobs are the trainer's (same weights, same math)
      expect(r.metrics.tokenMultProbError).toBeLessThan(1.001);
      expect(engine.policyVersion).toBe(1);
      const after = await engine.generate(req);
      expect(after.policyVersion).toBe(1);
      expect(after.generationLogProbs).not.toEqual(before.generationLogProbs);
      // and the engine now scores its old first token lower (advantage was negative)
      const lp = trainer.logprobsSync({ tokens: Int32Array.from(gen), seqOffsets: Int32Array.from([0, gen.length]) }).logprobs;
      expect(lp[3]).toBeLessThan(before.generationLogProbs[0]);
      expect(TINY_IDS).toContain(before.generationTokenIds[0]);
    } finally {
      await engine.close();
    }
  });

  test("load is a refit: the version goes up and no prefix K/V of the old weights is reused", async () => {
    const init = tinyModel(kernels, 7);
    const shared = allocSharedParams(init.numParams);
    shared.set(init.params.flat);
    const model = new Model(config, { kernels, params: shared });
    const engine = await createEmbeddedEngine({ config, sharedParams: shared, slots: 2, kernels: "reference", thread: "main" });
    const loaded = tinyModel(kernels, 9);
    const dir = join(tmp, "load");
    saveCheckpoint(dir, loaded);
    const freshParams = allocSharedParams(loaded.numParams);
    freshParams.set(loaded.params.flat);
    const fresh = await createEmbeddedEngine({ config, sharedParams: freshParams, slots: 2, kernels: "reference", thread: "main" });
    try {
      const trainer = new EmbeddedTrainer({ model, commit: (write) => engine.updateWeights({ kind: "shared", write }) });
      const req = { promptTokenIds: [2, 3, 5, 7, 11, 13, 17, 19, 23], sampling: { temperature: 0, topP: 1, topK: 0 }, maxTokens: 6, stopTokenIds: [] };
      await engine.generate(req);
      // the same prompt again on the old weights: served from the retained prefix (the cache works)
      expect((await engine.generate(req)).cachedPromptTokens).toBeGreaterThan(0);
      await trainer.load(dir);
      expect(engine.policyVersion).toBe(1);
      const after = await engine.generate(req);
      expect(after.policyVersion).toBe(1);
      expect(after.cachedPromptTokens).toBe(0);
      const want = await fresh.generate(req);
      expect(after.generationTokenIds).toEqual(want.generationTokenIds);
      after.generationLogProbs.forEach((x, j) => expect(Math.abs(x - want.generationLogProbs[j])).toBeLessThan(1e-5));
    } finally {
      await engine.close();
      await fresh.close();
    }
  });
});
