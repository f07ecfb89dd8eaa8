/**
 * Automatic prefix caching in the scheduler: the same scripted requests (arrivals, cancellations,
 * weight swaps at given steps) run with caching on and off must give the same tokens and logprobs,
 * while the cache-on run computes fewer rows. With the reference kernels every row's arithmetic is
 * independent of the batch it is computed in, so copied keys and values are bit-identical to
 * recomputed ones and results must be exactly equal. With the native kernels (OpenBLAS) a row's
 * rounding can depend on how many rows share the matmul (sgemv up to 4 rows, sgemm beyond), and
 * caching changes how many rows a pass has; there tokens must be equal and logprobs within 1e-5.
 */
import { describe, expect, test } from "vitest";

import type { Model } from "../model/model.ts";
import { getNativeKernels, referenceKernels } from "../tensor/index.ts";
import type { Kernels } from "../tensor/kernels.ts";
import { Scheduler, type SchedulerOptions, type SchedulerStats } from "./scheduler.ts";
import { Recorder, greedy, greedyByForward, tinyEngineConfig, tinyModel } from "./testing.ts";
import type { GenerateRequest } from "./types.ts";

/** What happens before step `at`: a request arrives, one is cancelled, or the weights change. */
type Event = { at: number } & ({ submit: GenerateRequest; id: number } | { cancel: number } | { weights: Float32Array });

interface Run {
  rec: Recorder;
  rows: number[];
  stats: SchedulerStats;
}

function play(model: Model, opts: SchedulerOptions, events: Event[]): Run {
  const s = new Scheduler(model, opts);
  const rec = new Recorder();
  const rows: number[] = [];
  const last = Math.max(0, ...events.map((e) => e.at));
  for (let i = 0; i <= last || s.hasWork; i++) {
    if (i > 10_000) throw new Error("scheduler does not finish");
    for (const e of events) {
      if (e.at !== i) continue;
      if ("submit" in e) s.submit(e.id, e.submit);
      else if ("cancel" in e) s.cancel(e.cancel, rec);
      else {
        model.setParams(e.weights);
        s.bumpVersion();
      }
    }
    rows.push(s.step(rec));
  }
  return { rec, rows, stats: { ...s.stats } };
}

const sampled = (prompt: number[], maxTokens: number, seed: number): GenerateRequest => ({
  promptTokenIds: prompt,
  sampling: { temperature: 1, topP: 0.95, topK: 0, seed },
  maxTokens,
  stopTokenIds: [],
  topLogprobs: 2,
});

/** A shared "system prompt" and prompts built on it. */
const SYS = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29];
const LONG = [...SYS, ...Array.from({ length: 20 }, (_, i) => [31, 37, 5, 7][i % 4])];

const native = getNativeKernels();
const kernelCases: [string, Kernels, boolean][] = [
  ["reference", referenceKernels, true],
  ...(native ? [["native", native, false] as [string, Kernels, boolean]] : []),
];

describe.each(kernelCases)("prefix caching (%s kernels)", (_, kernels, exact) => {
  const model = () => tinyModel(kernels, 1);

  /** Caching on and off give the same results; returns both runs. */
  function onOff(opts: Omit<SchedulerOptions, "prefixCaching">, events: Event[], mk = model): { on: Run; off: Run } {
    const on = play(mk(), { ...opts, prefixCaching: true }, events);
    const off = play(mk(), { ...opts, prefixCaching: false }, events);
    expect([...on.rec.results.keys()].sort()).toEqual([...off.rec.results.keys()].sort());
    for (const [id, b] of off.rec.results) {
      const a = on.rec.results.get(id)!;
      expect(b.cachedPromptTokens).toBe(0);
      const { cachedPromptTokens: _a, generationLogProbs: la0, topLogprobs: ta0, generationTokenIds: ga, generationPolicyVersions: va, ...restA } = a;
      const { cachedPromptTokens: _b, generationLogProbs: lb0, topLogprobs: tb0, generationTokenIds: gb, generationPolicyVersions: vb, ...restB } = b;
      expect(restA).toEqual(restB); // finish reason, versions
      // a request cancelled at a given step got further where its prompt was cached: compare the
      // tokens both runs produced
      const n = a.finishReason === "abort" ? Math.min(ga.length, gb.length) : gb.length;
      expect(ga.slice(0, n)).toEqual(gb.slice(0, n));
      // one version per generated token (a cancelled request has as many as it generated)
      expect(va?.length).toBe(ga.length);
      expect(vb?.length).toBe(gb.length);
      expect(va?.slice(0, n)).toEqual(vb?.slice(0, n));
      const [la, lb, ta, tb] = [la0.slice(0, n), lb0.slice(0, n), ta0?.slice(0, n), tb0?.slice(0, n)];
      if (exact) {
        expect(la).toEqual(lb);
        expect(ta).toEqual(tb);
      } else {
        la.forEach((x, j) => expect(Math.abs(x - lb[j])).toBeLessThan(1e-5));
        expect(ta?.map((t) => t.map((x) => x.tokenId))).toEqual(tb?.map((t) => t.map((x) => x.tokenId)));
      }
      expect(on.rec.tokens.get(id)?.map((t) => t.tokenId) ?? []).toEqual(a.generationTokenIds);
    }
    expect(on.stats.promptTokens).toBe(off.stats.promptTokens);
    expect(off.stats.cachedPromptTokens).toBe(0);
    if (!events.some((e) => "cancel" in e)) expect(on.stats.rows).toBe(off.stats.rows - on.stats.cachedPromptTokens);
    return { on, off };
  }

  test("mixed arrivals, chunked prefill, fewer slots than requests: same results, fewer rows", () => {
    const prompts = [
      [...SYS, 31, 37],
      [...SYS, 31, 37], // identical
      [...SYS, 2, 2, 2, 3],
      [37, 31, 29], // nothing shared
      LONG, // chunked (maxBatchTokens 7), shares SYS
      [...SYS, 1000, 3], // an id outside the vocabulary
      [...SYS, 31, 37, 5], // extends the first prompt
      LONG, // again, after the first LONG finished: reuses a retained slot
    ];
    const at = [0, 0, 1, 2, 3, 3, 9, 40];
    const events: Event[] = prompts.map((p, i) => ({ at: at[i], id: i, submit: sampled(p, 6 + (i % 4) * 3, 11 * i) }));
    const { on, off } = onOff({ slots: 3, maxModelLen: 64, maxBatchTokens: 7 }, events);
    expect(on.stats.cachedPromptTokens).toBeGreaterThan(40);
    const cached = (id: number) => on.rec.results.get(id)!.cachedPromptTokens!;
    expect(cached(0)).toBe(0);
    expect(cached(3)).toBe(0);
    expect(cached(1)).toBeGreaterThanOrEqual(SYS.length);
    expect(cached(7)).toBeGreaterThanOrEqual(SYS.length + 3); // from a slot retained since request 6
    expect(on.rows.reduce((a, b) => a + b, 0)).toBeLessThan(off.rows.reduce((a, b) => a + b, 0));
  });

  test("a group of identical prompts computes the shared prompt once; another group copies the system prompt", () => {
    const a = [...SYS, 31, 37, 31, 37, 5, 7, 11, 13];
    const b = [...SYS, 37, 37, 37, 2];
    const events: Event[] = [
      ...Array.from({ length: 8 }, (_, i) => ({ at: 0, id: i, submit: sampled(a, 5, i) })),
      ...Array.from({ length: 4 }, (_, i) => ({ at: 0, id: 8 + i, submit: sampled(b, 5, 8 + i) })),
    ];
    const { on, off } = onOff({ slots: 12, maxModelLen: 64, maxBatchTokens: 256 }, events);
    // one pass: a once, 1 row for each other copy of a (its logits), b's own tokens, 1 row per other b
    expect(on.rows[0]).toBe(a.length + 7 + (b.length - SYS.length) + 3);
    expect(off.rows[0]).toBe(8 * a.length + 4 * b.length);
    const cached = Array.from({ length: 12 }, (_, i) => on.rec.results.get(i)!.cachedPromptTokens);
    expect(cached).toEqual([0, ...Array(7).fill(a.length - 1), SYS.length, ...Array(3).fill(b.length - 1)]);
    expect(on.stats.cachedPromptTokens).toBe(7 * (a.length - 1) + SYS.length + 3 * (b.length - 1));
  });

  test("a second turn extending a finished first turn reuses it in place", () => {
    const first = [...SYS, 31, 37];
    const gen = greedyByForward(model(), first, 10);
    const second = [...first, ...gen, 5, 7, 11];
    const events: Event[] = [
      { at: 0, id: 0, submit: greedy(first, 10) },
      { at: 12, id: 1, submit: greedy([37, 31, 29, 23], 4) }, // takes the empty slot, not the first turn's
      { at: 20, id: 2, submit: greedy(second, 8) },
    ];
    const { on } = onOff({ slots: 2, maxModelLen: 64 }, events);
    expect(on.rec.results.get(0)!.generationTokenIds).toEqual(gen);
    // everything the first turn wrote: its prompt and all generated tokens but the last
    expect(on.rec.results.get(2)!.cachedPromptTokens).toBe(first.length + gen.length - 1);
    expect(on.rows[20]).toBe(1 + 3);
    expect(on.rec.results.get(2)!.generationTokenIds).toEqual(greedyByForward(model(), second, 8));
  });

  test("after a weight update nothing cached before it is reused; in-flight sequences continue as before", () => {
    const next = tinyModel(kernels, 9).params.flat as Float32Array;
    const p = [...SYS, 31, 37];
    const events: Event[] = [
      { at: 0, id: 0, submit: greedy(p, 6) }, // finished before the update: retained
      { at: 0, id: 1, submit: greedy([...p, 5], 40) }, // in flight across the update
      { at: 10, weights: next },
      { at: 10, id: 2, submit: greedy([...p, 5, 7], 6) }, // shares 13 tokens with both slots
      { at: 11, id: 3, submit: greedy([...p, 5, 7], 6) }, // may reuse request 2 (same weights)
    ];
    const { on } = onOff({ slots: 3, maxModelLen: 64 }, events);
    const r = (id: number) => on.rec.results.get(id)!;
    expect(r(1).policyVersions).toEqual([0, 1]);
    expect(r(2).cachedPromptTokens).toBe(0);
    expect(r(2).policyVersions).toEqual([1]);
    expect(r(3).cachedPromptTokens).toBe(p.length + 1);
    // equal to an engine that only ever had the new weights
    const fresh = tinyModel(kernels, 9);
    expect(r(2).generationTokenIds).toEqual(greedyByForward(fresh, [...p, 5, 7], 6));
    const only = play(tinyModel(kernels, 9), { slots: 1, maxModelLen: 64, prefixCaching: false }, [{ at: 0, id: 0, submit: greedy([...p, 5, 7], 6) }]);
    const want = only.rec.results.get(0)!.generationLogProbs;
    if (exact) expect(r(2).generationLogProbs).toEqual(want);
    else r(2).generationLogProbs.forEach((x, j) => expect(Math.abs(x - want[j])).toBeLessThan(1e-5));
  });

  test("cancellation mid-prefill and mid-decode: the slot is freed, its written prefix is reused", () => {
    const events: Event[] = [
      { at: 0, id: 0, submit: sampled(LONG, 20, 1) },
      { at: 2, cancel: 0 }, // after two 4-row chunks
      { at: 2, id: 1, submit: sampled([...SYS, 31], 30, 2) },
      { at: 6, cancel: 1 }, // decoding by now
      { at: 6, id: 2, submit: sampled(LONG, 5, 3) },
      { at: 6, id: 3, submit: sampled([...SYS, 31, 2, 3], 5, 4) },
      { at: 7, id: 4, submit: sampled([5, 7], 5, 5) }, // queued behind the single slot
    ];
    const { on } = onOff({ slots: 1, maxModelLen: 64, maxBatchTokens: 4 }, events);
    const r = (id: number) => on.rec.results.get(id)!;
    expect(r(0)).toMatchObject({ finishReason: "abort", generationTokenIds: [] });
    expect(r(1).finishReason).toBe("abort");
    expect(r(1).generationTokenIds.length).toBeGreaterThan(0);
    expect(r(1).cachedPromptTokens).toBe(8); // the two chunks request 0 wrote before it was cancelled
    expect(r(2).cachedPromptTokens).toBe(SYS.length + 1); // what request 1 wrote
    expect(r(3).cachedPromptTokens).toBe(SYS.length + 1); // from the retained LONG slot
    for (const id of [2, 3, 4]) expect(r(id).finishReason).toBe("length");
  });
});

test("prefix caching off: slots are handed out lowest first and nothing is reused", () => {
  const model = tinyModel(referenceKernels, 1, tinyEngineConfig());
  const s = new Scheduler(model, { slots: 4, maxModelLen: 64, prefixCaching: false });
  const rec = new Recorder();
  for (let i = 0; i < 3; i++) s.submit(i, greedy([...SYS, 31], 3));
  while (s.hasWork) s.step(rec);
  expect(s.stats).toMatchObject({ promptTokens: 33, cachedPromptTokens: 0, rows: 33 + 3 * 2 });
});
