import { describe, expect, test } from "vitest";
import * as m from "./metrics.ts";

const prev = [-1, -1, 0];
const gen = [-1.1, -0.8, 5]; // the third token is masked: its garbage must not leak in
const mask = [1, 1, 0];

describe("trainer/sampler mismatch metrics", () => {
  test("token_mult_prob_error = mean exp(|gen - prev|)", () => {
    expect(m.tokenMultProbError(prev, gen, mask)).toBeCloseTo((Math.exp(0.1) + Math.exp(0.2)) / 2, 7);
    expect(m.tokenMultProbError([-1, -2], [-1, -2], [1, 1])).toBeCloseTo(1, 7);
  });

  test("gen_kl_error is KL(gen ‖ train) with logr = prev - gen; policy_kl_error the reverse", () => {
    const k3 = (x: number): number => Math.exp(x) - 1 - x;
    expect(m.genKlError(prev, gen, mask, "k3")).toBeCloseTo((k3(0.1) + k3(-0.2)) / 2, 7);
    expect(m.policyKlError(prev, gen, mask, "k3")).toBeCloseTo((k3(-0.1) + k3(0.2)) / 2, 7);
    expect(m.genKlError(prev, gen, mask, "k1")).toBeCloseTo((-0.1 + 0.2) / 2, 7);
  });

  test("js divergence is 0 for equal logprobs and symmetric", () => {
    expect(m.jsDivergenceError([-1, -3], [-1, -3], [1, 1])).toBeCloseTo(0, 12);
    expect(m.jsDivergenceError(prev, gen, mask)).toBeCloseTo(m.jsDivergenceError(gen, prev, mask), 12);
    expect(m.jsDivergenceError(prev, gen, mask)).toBeGreaterThan(0);
  });

  test("approx entropy = -mean exp(curr - gen)·curr; entropy passthrough is a masked mean", () => {
    expect(m.approxEntropy([-1, -2], [-1, -2], [1, 1])).toBeCloseTo(1.5, 7);
    expect(m.meanEntropy([0.5, 1.5, 99], [1, 1, 0])).toBeCloseTo(1, 7);
  });

  test("IS ratio stats are raw exp(prev - gen) over valid tokens", () => {
    const s = m.isRatioStats(prev, gen, mask);
    expect(s.min).toBeCloseTo(Math.exp(-0.2), 12);
    expect(s.max).toBeCloseTo(Math.exp(0.1), 12);
    expect(s.mean).toBeCloseTo((Math.exp(0.1) + Math.exp(-0.2)) / 2, 12);
  });

  test("seq_mult_prob_error per sequence; an empty sequence doesn't drag the min to 0", () => {
    const e = m.seqMultProbError({ seqOffsets: [0, 2, 3, 5], tokenMask: [1, 1, 0, 1, 1] }, [0, 0, 0, 0, 0], [0.1, 0.1, 0, 0.3, 0.3]);
    expect(Array.from(e.valid)).toEqual([1, 0, 1]);
    expect(e.min).toBeCloseTo(Math.exp(0.1), 12);
    expect(e.max).toBeCloseTo(Math.exp(0.3), 12);
  });
});

describe("driver metrics", () => {
  test("advantage stats over valid tokens", () => {
    expect(m.advantageStats([9, 1, -2, 4], [0, 1, 1, 1])).toEqual({ mean: 1, max: 4, min: -2, sum: 3 });
  });

  test("baseline_reward pct_0 / pct_1 / mixed", () => {
    expect(m.baselineRewardPct([0, 0, 1, 0.5])).toEqual({ pct0: 50, pct1: 25, pctMixed: 25 });
  });
});

describe("performance/*", () => {
  test("tokens_per_sec counts every sample; trained tokens have their own names; generation counts what was generated", () => {
    // two samples of 10 and 30 tokens (4 and 6 generated); only the first is trained
    const p = m.throughputMetrics({ sampleTokens: 40, generatedTokens: 10, trainedTokens: 10, generationS: 2, trainingS: 0.5, stepS: 4 });
    expect(p["performance/tokens_per_sec"]).toBeCloseTo(10, 12);
    expect(p["performance/trained_tokens_per_sec"]).toBeCloseTo(2.5, 12);
    expect(p["performance/generation_tokens_per_sec"]).toBeCloseTo(5, 12);
    expect(p["performance/policy_training_tokens_per_sec"]).toBeCloseTo(20, 12);
  });
});
