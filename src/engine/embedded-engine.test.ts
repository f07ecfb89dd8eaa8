import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";

import { saveCheckpoint } from "../model/checkpoint.ts";
import { Model } from "../model/model.ts";
import { randomizeParams } from "../model/testing.ts";
import { referenceKernels } from "../tensor/index.ts";
import { allocSharedParams, createEmbeddedEngine } from "./embedded-engine.ts";
import { greedy, greedyByForward, tinyEngineConfig, tinyModel } from "./testing.ts";
import type { GenerateRequest, GeneratedToken } from "./types.ts";

const kernels = referenceKernels;
const config = tinyEngineConfig();
/** Long enough that a generation is still running when the main thread reacts to its first tokens. */
const longConfig = tinyEngineConfig({ max_position_embeddings: 1024 });
const sampled = (prompt: number[], maxTokens: number, seed: number): GenerateRequest => ({
  promptTokenIds: prompt,
  sampling: { temperature: 0.9, topP: 0.95, topK: 8, seed },
  maxTokens,
  stopTokenIds: [],
  topLogprobs: 2,
});

const tmp = mkdtempSync(join(tmpdir(), "gymrl-engine-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("embedded engine", () => {
  test("worker: greedy equals full-forward argmax, streams every token, and matches the in-thread engine", async () => {
    const model = tinyModel(kernels, 1);
    const opts = { config, params: model.params.flat as Float32Array, slots: 4, maxModelLen: 64, kernels: "reference" as const };
    const worker = await createEmbeddedEngine(opts);
    const main = await createEmbeddedEngine({ ...opts, thread: "main" });
    try {
      expect(worker.maxModelLen).toBe(64);
      expect(worker.policyVersion).toBe(0);
      const streamed: GeneratedToken[] = [];
      const r = await worker.generate(greedy([2, 3, 5], 10), { onToken: (t) => streamed.push(t) });
      expect(r.generationTokenIds).toEqual(greedyByForward(model, [2, 3, 5], 10));
      expect(streamed.map((t) => t.tokenId)).toEqual(r.generationTokenIds);
      expect(streamed.map((t) => t.logprob)).toEqual(r.generationLogProbs);
      expect(r).toMatchObject({ promptTokenIds: [2, 3, 5], finishReason: "length", policyVersion: 0, policyVersions: [0] });

      const reqs = Array.from({ length: 7 }, (_, i) => sampled([2, 3, 5, 7].slice(0, 1 + (i % 4)), 12 + i, i));
      const [a, b] = await Promise.all([Promise.all(reqs.map((q) => worker.generate(q))), Promise.all(reqs.map((q) => main.generate(q)))]);
      expect(b).toEqual(a);
      expect(a[0].topLogprobs).toHaveLength(12);
      await expect(worker.generate(greedy([], 3))).rejects.toThrow(/empty/);
      expect((await worker.generate(greedy([2], 2))).generationTokenIds).toHaveLength(2); // still serving
    } finally {
      await Promise.all([worker.close(), main.close()]);
    }
  });

  test("updateWeights (copy): in-flight requests finish across versions; new ones run the new weights", async () => {
    const model = tinyModel(kernels, 1);
    const next = tinyModel(kernels, 9);
    const engine = await createEmbeddedEngine({ config: longConfig, params: model.params.flat as Float32Array, slots: 2, maxModelLen: 1024, kernels: "reference" });
    try {
      const before = await engine.generate(greedy([2, 3, 5], 12));
      let update: Promise<number> | null = null;
      const inflight = Array.from({ length: 6 }, (_, i) =>
        engine.generate(greedy([2, 3, 5], 600 - 37 * i), {
          onToken: () => void (update ??= engine.updateWeights(next.params.flat as Float32Array)),
        }),
      );
      const results = await Promise.all(inflight);
      expect(await update!).toBe(1);
      expect(engine.policyVersion).toBe(1);
      for (const r of results) {
        expect(r.finishReason).toBe("length");
        expect([[0], [1], [0, 1]]).toContainEqual(r.policyVersions);
        expect(r.policyVersion).toBe(r.policyVersions[0]);
      }
      expect(results.some((r) => r.policyVersions.length === 2)).toBe(true);
      const after = await engine.generate(greedy([2, 3, 5], 12));
      expect(after).toMatchObject({ policyVersion: 1, policyVersions: [1] });
      expect(after.generationTokenIds).toEqual(greedyByForward(next, [2, 3, 5], 12));
      expect(after.generationTokenIds).not.toEqual(before.generationTokenIds);
    } finally {
      await engine.close();
    }
  });

  test("in-flight update: each token's version is the weights that sampled it (per-token record checked against both models)", async () => {
    const a = tinyModel(kernels, 1, longConfig);
    // B: A with the final norm zeroed, so every logit is 0 and B's greedy token is one constant id
    // whatever the context: a token B sampled is recognisable, a token A sampled follows A's greedy path
    const b = tinyModel(kernels, 1, longConfig);
    b.params.norm.fill(0);
    const constant = greedyByForward(b, [2, 3, 5], 1)[0];
    const prompt = [2, 3, 5];
    const engine = await createEmbeddedEngine({ config: longConfig, params: a.params.flat as Float32Array, slots: 2, maxModelLen: 1024, kernels: "reference" });
    try {
      let update: Promise<number> | null = null;
      let seen = 0;
      const r = await engine.generate(greedy(prompt, 200), {
        onToken: () => void (++seen === 20 && (update ??= engine.updateWeights(b.params.flat as Float32Array))),
      });
      expect(await update!).toBe(1);
      const v = r.generationPolicyVersions!;
      expect(v).toHaveLength(r.generationTokenIds.length);
      const k = v.indexOf(1);
      expect(k).toBeGreaterThanOrEqual(20); // the update lands between steps after the 20th token
      expect(k).toBeLessThan(r.generationTokenIds.length); // it landed before the request ended
      // A's greedy path through the boundary, computed once k is known: where the update lands depends
      // on how busy the machine is (requested after token 20, it landed at token 59 on a loaded CI run)
      const refA = greedyByForward(a, prompt, k + 1);
      expect(v.slice(0, k).every((x) => x === 0) && v.slice(k).every((x) => x === 1)).toBe(true);
      expect(r.policyVersions).toEqual([0, 1]);
      // version 0 tokens are A's greedy path; version 1 tokens are B's constant, from the first one on
      expect(r.generationTokenIds.slice(0, k)).toEqual(refA.slice(0, k));
      expect(refA[k]).not.toBe(constant); // so the boundary itself is tested
      expect(r.generationTokenIds.slice(k).every((t) => t === constant)).toBe(true);
    } finally {
      await engine.close();
    }
  });

  test("shared weights (no copy): the trainer writes while the engine is paused; swap and checkpoint updates", async () => {
    const shared = allocSharedParams(new Model(config, { kernels }).numParams);
    const trainer = new Model(config, { kernels, params: shared });
    randomizeParams(trainer, 1, 0.5);
    const engine = await createEmbeddedEngine({ config, sharedParams: shared, slots: 2, maxModelLen: 64, kernels: "reference" });
    try {
      const prompt = [7, 11];
      const v0 = await engine.generate(greedy(prompt, 10));
      expect(v0.generationTokenIds).toEqual(greedyByForward(trainer, prompt, 10));

      // colocated refit: the trainer's in-place write is what the engine computes with next
      let wrote = false;
      const v = await engine.updateWeights({ kind: "shared", write: () => void (randomizeParams(trainer, 2, 0.5), (wrote = true)) });
      expect([v, wrote]).toEqual([1, true]);
      const v1 = await engine.generate(greedy(prompt, 10));
      expect(v1).toMatchObject({ policyVersion: 1 });
      expect(v1.generationTokenIds).toEqual(greedyByForward(trainer, prompt, 10));
      expect(v1.generationTokenIds).not.toEqual(v0.generationTokenIds);

      // a failing write does not bump the version
      await expect(engine.updateWeights({ kind: "shared", write: () => Promise.reject(new Error("boom")) })).rejects.toThrow(/boom/);
      expect(engine.policyVersion).toBe(1);

      // double buffering: switch to another shared buffer
      const other = allocSharedParams(shared.length);
      const otherModel = new Model(config, { kernels, params: other });
      randomizeParams(otherModel, 3, 0.5);
      expect(await engine.updateWeights({ kind: "swap", params: other })).toBe(2);
      expect((await engine.generate(greedy(prompt, 10))).generationTokenIds).toEqual(greedyByForward(otherModel, prompt, 10));

      // from a checkpoint directory
      const ckpt = tinyModel(kernels, 4);
      saveCheckpoint(join(tmp, "ckpt"), ckpt);
      expect(await engine.updateWeights({ kind: "checkpoint", dir: join(tmp, "ckpt") })).toBe(3);
      const fromCkpt = await engine.generate(greedy(prompt, 10));
      expect(fromCkpt).toMatchObject({ policyVersion: 3 });
      expect(fromCkpt.generationTokenIds).toEqual(greedyByForward(ckpt, prompt, 10));
      await expect(engine.updateWeights({ kind: "checkpoint", dir: join(tmp, "missing") })).rejects.toThrow(/weight update failed/);
      await expect(engine.updateWeights(new Float32Array(3))).rejects.toThrow(/parameter buffer has 3 values/);
      expect(engine.policyVersion).toBe(3);
    } finally {
      await engine.close();
    }
    // an engine straight from the checkpoint directory
    const fromDir = await createEmbeddedEngine({ modelDir: join(tmp, "ckpt"), slots: 1, maxModelLen: 32, kernels: "reference" });
    try {
      const r = await fromDir.generate(greedy([7, 11], 10));
      expect(r.generationTokenIds).toEqual(greedyByForward(tinyModel(kernels, 4), [7, 11], 10));
    } finally {
      await fromDir.close();
    }
  });

  test("prefix caching (default on): same results as off, cached prompt tokens reported per result and in stats", async () => {
    const params = tinyModel(kernels, 1).params.flat as Float32Array;
    const opts = { config, params, slots: 8, maxModelLen: 64, kernels: "reference" as const, thread: "main" as const };
    const on = await createEmbeddedEngine(opts);
    const off = await createEmbeddedEngine({ ...opts, prefixCaching: false });
    try {
      const prompt = [2, 3, 5, 7, 11, 13, 17, 19];
      const reqs = Array.from({ length: 8 }, (_, i) => sampled(prompt, 6, i));
      const [a, b] = await Promise.all([Promise.all(reqs.map((q) => on.generate(q))), Promise.all(reqs.map((q) => off.generate(q)))]);
      expect(a.map(({ cachedPromptTokens: _, ...r }) => r)).toEqual(b.map(({ cachedPromptTokens: _, ...r }) => r));
      expect(a.map((r) => r.cachedPromptTokens)).toEqual([0, ...Array(7).fill(prompt.length - 1)]);
      expect(b.every((r) => r.cachedPromptTokens === 0)).toBe(true);
      expect(on.stats).toMatchObject({ promptTokens: 64, cachedPromptTokens: 7 * 7, rows: 8 + 7 + 8 * 5 });
      expect(off.stats).toMatchObject({ promptTokens: 64, cachedPromptTokens: 0, rows: 64 + 8 * 5 });
    } finally {
      await Promise.all([on.close(), off.close()]);
    }
  });

  test("cancellation: an aborted request frees its slot and a queued one runs; close aborts the rest", async () => {
    const engine = await createEmbeddedEngine({ config: longConfig, params: tinyModel(kernels, 1).params.flat as Float32Array, slots: 1, maxModelLen: 1024, kernels: "reference" });
    const ac = new AbortController();
    let seen = 0;
    const long = engine.generate(greedy([2, 3], 1000), { signal: ac.signal, onToken: () => ++seen === 2 && ac.abort() });
    const queued = engine.generate(greedy([5, 7], 5));
    const a = await long;
    expect(a.finishReason).toBe("abort");
    expect(a.generationTokenIds.length).toBeGreaterThanOrEqual(2);
    expect(a.generationTokenIds.length).toBeLessThan(1000);
    expect(await queued).toMatchObject({ finishReason: "length" });

    const pre = new AbortController();
    pre.abort();
    expect(await engine.generate(greedy([2], 5), { signal: pre.signal })).toMatchObject({ finishReason: "abort", generationTokenIds: [] });

    const pending = [engine.generate(greedy([2, 3], 1000)), engine.generate(greedy([2, 3], 1000))];
    await engine.close();
    for (const r of await Promise.all(pending)) expect(r.finishReason).toBe("abort");
    await expect(engine.generate(greedy([2], 2))).rejects.toThrow(/closed/);
  });
});
