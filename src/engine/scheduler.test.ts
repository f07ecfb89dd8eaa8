import { describe, expect, test } from "vitest";

import { Model } from "../model/model.ts";
import { randomizeParams } from "../model/testing.ts";
import { getNativeKernels, referenceKernels } from "../tensor/index.ts";
import type { Kernels } from "../tensor/kernels.ts";
import { Scheduler } from "./scheduler.ts";
import { Recorder, TINY_IDS, greedyByForward, tinyModel, trainerLogprobs } from "./testing.ts";
import type { GenerateRequest } from "./types.ts";

function runAll(s: Scheduler, rec = new Recorder()): Recorder {
  for (let i = 0; s.hasWork; i++) {
    if (i > 10_000) throw new Error("scheduler does not finish");
    s.step(rec);
  }
  return rec;
}

function req(prompt: number[], maxTokens: number, seed?: number, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    promptTokenIds: prompt,
    sampling: seed === undefined ? { temperature: 0, topP: 1, topK: 0 } : { temperature: 1, topP: 1, topK: 0, seed },
    maxTokens,
    stopTokenIds: [],
    ...extra,
  };
}

/** Prompts of several lengths over the tiny vocabulary (plus one id outside it: the unknown row). */
const prompts = [
  [2, 3, 5],
  [7, 11, 13, 17, 19, 23, 29, 31, 37, 2, 3, 5, 7, 11],
  [29, 1000, 31],
  [37],
  [5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
];

const native = getNativeKernels();
const kernelCases: [string, Kernels][] = [["reference", referenceKernels], ...(native ? [["native", native] as [string, Kernels]] : [])];

describe.each(kernelCases)("Scheduler (%s kernels)", (_, kernels) => {
  test("greedy generation equals step-by-step argmax of full forwards", () => {
    const model = tinyModel(kernels, 1);
    const s = new Scheduler(model, { slots: 3, maxModelLen: 64, maxBatchTokens: 8 });
    prompts.forEach((p, i) => s.submit(i, req(p, 12)));
    const rec = runAll(s);
    prompts.forEach((p, i) => {
      const r = rec.results.get(i)!;
      expect(r.finishReason).toBe("length");
      expect(r.generationTokenIds).toEqual(greedyByForward(model, p, 12));
      // greedy logprobs are the raw log-softmax: the trainer's logprobs
      const lp = trainerLogprobs(model, p, r.generationTokenIds);
      r.generationLogProbs.forEach((x, j) => expect(x).toBeCloseTo(lp[j], 4));
    });
  });

  test("on-policy: the trainer's recomputed logprobs of sampled tokens match the engine's", () => {
    const model = tinyModel(kernels, 2);
    const s = new Scheduler(model, { slots: 4, maxModelLen: 64, maxBatchTokens: 16 });
    prompts.forEach((p, i) => s.submit(i, req(p, 30, 100 + i)));
    const rec = runAll(s);
    let sum = 0;
    let n = 0;
    let worst = 0;
    prompts.forEach((p, i) => {
      const r = rec.results.get(i)!;
      const lp = trainerLogprobs(model, p, r.generationTokenIds);
      r.generationLogProbs.forEach((x, j) => {
        const d = Math.abs(x - lp[j]);
        sum += Math.exp(d);
        worst = Math.max(worst, d);
        n++;
      });
    });
    expect(n).toBe(prompts.length * 30);
    expect(sum / n).toBeLessThanOrEqual(1.001);
    expect(worst).toBeLessThan(1e-3);
    // the checker can fail: logprobs of another model's weights are off
    const other = tinyModel(kernels, 3);
    const r0 = rec.results.get(0)!;
    const off = trainerLogprobs(other, prompts[0], r0.generationTokenIds);
    const mean = off.reduce((a, x, j) => a + Math.exp(Math.abs(x - r0.generationLogProbs[j])), 0) / off.length;
    expect(mean).toBeGreaterThan(1.001);
  });

  test("on-policy at temperature 1.5: the trainer scoring at the sampling temperature matches; at 1 it does not", () => {
    const model = tinyModel(kernels, 2);
    const s = new Scheduler(model, { slots: 4, maxModelLen: 64, maxBatchTokens: 16 });
    prompts.forEach((p, i) => s.submit(i, req(p, 30, 200 + i, { sampling: { temperature: 1.5, topP: 1, topK: 0, seed: 200 + i } })));
    const rec = runAll(s);
    const meanErr = (t: number) => {
      let sum = 0;
      let n = 0;
      prompts.forEach((p, i) => {
        const r = rec.results.get(i)!;
        const lp = trainerLogprobs(model, p, r.generationTokenIds, t);
        r.generationLogProbs.forEach((x, j) => {
          sum += Math.exp(Math.abs(x - lp[j]));
          n++;
        });
      });
      return sum / n;
    };
    expect(meanErr(1.5)).toBeLessThanOrEqual(1.001);
    expect(meanErr(1)).toBeGreaterThan(1.001);
  });

  test("seeded results under concurrency equal the same requests run alone", () => {
    const model = tinyModel(kernels, 4);
    const sampling = [
      { temperature: 1, topP: 1, topK: 0 },
      { temperature: 0.7, topP: 0.9, topK: 0 },
      { temperature: 1.2, topP: 1, topK: 4 },
      { temperature: 0, topP: 1, topK: 0 },
      { temperature: 1, topP: 0.8, topK: 6 },
    ];
    const make = (i: number): GenerateRequest => ({
      promptTokenIds: prompts[i],
      sampling: { ...sampling[i], seed: 7 * i },
      maxTokens: 10 + 3 * i,
      stopTokenIds: [],
      topLogprobs: 2,
    });
    const alone = prompts.map((_, i) => {
      const s = new Scheduler(model, { slots: 1, maxModelLen: 64 });
      s.submit(0, make(i));
      return runAll(s).results.get(0)!;
    });
    // together: fewer slots than requests (queueing), small batches (chunked prefill beside decodes)
    const s = new Scheduler(model, { slots: 3, maxModelLen: 64, maxBatchTokens: 5 });
    prompts.forEach((_, i) => s.submit(i, make(i)));
    const together = runAll(s);
    prompts.forEach((_, i) => {
      const a = alone[i];
      const b = together.results.get(i)!;
      expect(b.generationTokenIds).toEqual(a.generationTokenIds);
      b.generationLogProbs.forEach((x, j) => expect(x).toBeCloseTo(a.generationLogProbs[j], 5));
      expect(b.topLogprobs!.map((t) => t.map((x) => x.tokenId))).toEqual(a.topLogprobs!.map((t) => t.map((x) => x.tokenId)));
      // streamed tokens are the result's tokens
      expect(together.tokens.get(i)!.map((t) => t.tokenId)).toEqual(b.generationTokenIds);
    });
  });
});

describe("Scheduler", () => {
  const kernels = referenceKernels;

  test("generates only head rows, mapped to tokenizer ids (never the unknown row)", () => {
    const model = tinyModel(kernels, 5);
    const s = new Scheduler(model, { slots: 2, maxModelLen: 64 });
    for (let i = 0; i < 4; i++) s.submit(i, req([2, 1000, 3], 40, i));
    const rec = runAll(s);
    for (const r of rec.results.values()) for (const id of r.generationTokenIds) expect(TINY_IDS).toContain(id);
  });

  test("stops: a stop id ends with 'stop' (kept), else maxTokens or max_model_len end with 'length'", () => {
    const model = tinyModel(kernels, 1);
    const greedy = greedyByForward(model, [2, 3, 5], 6);
    const s = new Scheduler(model, { slots: 4, maxModelLen: 10, eosTokenIds: [] });
    s.submit(0, req([2, 3, 5], 20, undefined, { stopTokenIds: [greedy[3]] }));
    s.submit(1, req([2, 3, 5], 4));
    s.submit(2, req([2, 3, 5], 100));
    const rec = runAll(s);
    const stopAt = greedy.indexOf(greedy[3]);
    expect(rec.results.get(0)).toMatchObject({ finishReason: "stop", generationTokenIds: greedy.slice(0, stopAt + 1) });
    expect(rec.results.get(1)).toMatchObject({ finishReason: "length", generationTokenIds: greedy.slice(0, 4) });
    expect(rec.results.get(2)!.finishReason).toBe("length");
    expect(rec.results.get(2)!.generationTokenIds).toHaveLength(10 - 3); // prompt + generation = max_model_len
  });

  test("a long prompt is prefilled in chunks beside the decodes: no step passes without a token", () => {
    const model = tinyModel(kernels, 1);
    const s = new Scheduler(model, { slots: 2, maxModelLen: 64, maxBatchTokens: 6 });
    const rec = new Recorder();
    s.submit(0, req([2, 3], 30));
    s.step(rec);
    s.submit(1, req(prompts[4], 5)); // 23 tokens: 5 per step beside the one decode row
    const rows: number[] = [];
    for (let i = 0; i < 5; i++) {
      rows.push(s.step(rec));
      expect(rec.tokens.get(0)).toHaveLength(2 + i);
    }
    expect(rows).toEqual([6, 6, 6, 6, 4]); // 5 + 5 + 5 + 5 + 3 prompt rows
    expect(rec.tokens.get(1)).toHaveLength(1); // its first token once the whole prompt is in
    runAll(s, rec);
    expect(rec.results.get(1)!.generationTokenIds).toEqual(greedyByForward(model, prompts[4], 5));
  });

  test("engine-wide EOS ids stop every request", () => {
    const model = tinyModel(kernels, 1);
    const greedy = greedyByForward(model, [2, 3, 5], 3);
    const s = new Scheduler(model, { slots: 1, maxModelLen: 64, eosTokenIds: [greedy[1]] });
    s.submit(0, req([2, 3, 5], 20));
    const r = runAll(s).results.get(0)!;
    expect(r.finishReason).toBe("stop");
    expect(r.generationTokenIds).toEqual(greedy.slice(0, greedy.indexOf(greedy[1]) + 1));
  });

  test("cancellation frees the slot at once: a queued request then runs", () => {
    const model = tinyModel(kernels, 1);
    const s = new Scheduler(model, { slots: 1, maxModelLen: 64 });
    const rec = new Recorder();
    s.submit(0, req([2, 3], 50, 1));
    s.submit(1, req([5, 7], 5, 2));
    s.submit(2, req([5, 7], 5, 3));
    for (let i = 0; i < 3; i++) s.step(rec);
    expect(rec.tokens.get(0)).toHaveLength(3);
    expect(rec.tokens.has(1)).toBe(false); // queued behind the only slot
    expect(s.cancel(2, rec)).toBe(true); // a queued request leaves the queue
    expect(rec.results.get(2)).toMatchObject({ finishReason: "abort", generationTokenIds: [] });
    expect(s.cancel(0, rec)).toBe(true);
    expect(rec.results.get(0)).toMatchObject({ finishReason: "abort" });
    expect(rec.results.get(0)!.generationTokenIds).toHaveLength(3);
    s.step(rec);
    expect(rec.tokens.get(1)).toHaveLength(1); // admitted right after
    runAll(s, rec);
    expect(rec.results.get(1)!.finishReason).toBe("length");
    expect(s.cancel(1, rec)).toBe(false);
  });

  test("a weight swap between steps: in-flight requests finish, reporting every version they saw", () => {
    const model = tinyModel(kernels, 1);
    const fresh = new Model(model.config, { kernels });
    randomizeParams(fresh, 9, 0.5);
    const s = new Scheduler(model, { slots: 2, maxModelLen: 64 });
    const rec = new Recorder();
    s.submit(0, req([2, 3, 5], 12));
    for (let i = 0; i < 5; i++) s.step(rec);
    model.setParams(fresh.params.flat);
    expect(s.bumpVersion()).toBe(1);
    s.submit(1, req([2, 3, 5], 12));
    runAll(s, rec);
    const a = rec.results.get(0)!;
    const b = rec.results.get(1)!;
    expect(a).toMatchObject({ finishReason: "length", policyVersion: 0, policyVersions: [0, 1] });
    expect(b).toMatchObject({ policyVersion: 1, policyVersions: [1] });
    expect(b.generationTokenIds).toEqual(greedyByForward(fresh, [2, 3, 5], 12));
    expect(b.generationTokenIds).not.toEqual(greedyByForward(tinyModel(kernels, 1), [2, 3, 5], 12));
  });

  test("rejects requests that cannot run", () => {
    const s = new Scheduler(tinyModel(kernels, 1), { slots: 1, maxModelLen: 8 });
    expect(() => s.submit(0, req([], 4))).toThrow(/empty/);
    expect(() => s.submit(0, req([2, 3, 5, 7, 11, 13, 17, 19], 4))).toThrow(/max_model_len/);
    expect(() => s.submit(0, req([2], 0))).toThrow(/maxTokens/);
    expect(() => s.submit(0, { ...req([2], 3), sampling: { temperature: 1, topP: 0, topK: 0 } })).toThrow(/topP/);
    expect(s.hasWork).toBe(false);
  });
});
