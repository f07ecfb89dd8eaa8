import { describe, expect, test } from "vitest";
import { maskSampleFilter, overlongFilter, seqLogprobErrorMask } from "./sample-filters.ts";

describe("sample filters", () => {
  test("overlong filtering zeroes truncated samples' multipliers and counts them", () => {
    const r = overlongFilter([1, 1, 0, 1], [false, true, true, false]);
    expect(Array.from(r.lossMultiplier)).toEqual([1, 0, 0, 1]);
    expect(r.numFiltered).toBe(2);
  });

  test("mask_sample flags from the environment", () => {
    expect(Array.from(maskSampleFilter([1, 1], [true, false]).lossMultiplier)).toEqual([0, 1]);
  });

  test("seq logprob-error masking: masks over the threshold, reports before/after and correct share", () => {
    // three 2-token sequences with |gen - prev| = 0.01, 0.5, 0.7
    const batch = { seqOffsets: [0, 2, 4, 6], tokenMask: [1, 1, 1, 1, 1, 1] };
    const prev = [0, 0, 0, 0, 0, 0];
    const gen = [0.01, -0.01, 0.5, 0.5, -0.7, 0.7];
    const r = seqLogprobErrorMask(batch, prev, gen, [0, 1, 0], 1.5);
    expect(Array.from(r.sampleMask)).toEqual([1, 0, 0]);
    expect(r.numMaskedSeqsByLogprobError).toBe(2);
    expect(r.maskedCorrectPct).toBe(0.5);
    expect(r.maxSeqMultProbError).toBeCloseTo(Math.exp(0.7), 12);
    expect(r.maxSeqMultProbErrorAfterMask).toBeCloseTo(Math.exp(0.01), 12);
    const measureOnly = seqLogprobErrorMask(batch, prev, gen, [0, 1, 0], null);
    expect(Array.from(measureOnly.sampleMask)).toEqual([1, 1, 1]);
    expect(measureOnly.minSeqMultProbErrorAfterMask).toBeCloseTo(Math.exp(0.01), 12);
  });
});
