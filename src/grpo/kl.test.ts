import { describe, expect, test } from "vitest";
import { klEstimate, klTerm } from "./kl.ts";
import type { KlType } from "./defaults.ts";

describe("klTerm", () => {
  // NeMo test_calculate_kl: logprobs -1, reference [0, -15, -30]
  const expected: Record<KlType, { raw: number[]; clamped: number[] }> = {
    k1: { raw: [-1, 14, 29], clamped: [-1, 10, 10] },
    k2: { raw: [0.5, 98, 420.5], clamped: [0.5, 10, 10] },
    k3: { raw: [Math.E - 2, 13, 28], clamped: [Math.E - 2, 10, 10] },
  };
  test.each(["k1", "k2", "k3"] as const)("%s unclamped and with clamps 20 / 10", (type) => {
    const refs = [0, -15, -30];
    refs.forEach((ref, i) => {
      expect(klEstimate(-1, ref, type)).toBeCloseTo(expected[type].raw[i], 5);
      expect(klTerm(-1, ref, type, 20, 10).value).toBeCloseTo(expected[type].clamped[i], 6);
    });
  });

  test("input clamp detaches the weight and the estimate (NeMo ..._detaches_importance_sampling_when_input_clamped)", () => {
    // weight = exp(lp - sg(lp)) → value 1, d/dlp 1
    const clamped = klTerm(-3, 0, "k3", 2, null, 1, 1);
    expect(clamped.value).toBeCloseTo(Math.exp(2) - 3, 6); // logr clamped 3 → 2
    expect(clamped.dLogprob).toBe(0);
    const free = klTerm(-1, 0, "k3", 2, null, 1, 1);
    expect(free.value).toBeCloseTo(Math.E - 2, 6);
    expect(free.dLogprob).toBeCloseTo(-1, 12); // k + (e^logr - 1)(-1) = (e - 2) - (e - 1)
  });

  test("output clamp applies after the weight and blocks every gradient", () => {
    const out = klTerm(-1, 0, "k3", null, 1, 100, 100);
    expect(out.value).toBe(1);
    expect(out.dLogprob).toBe(0);
  });

  test.each(["k1", "k2", "k3"] as const)("%s derivative matches finite differences, with a score-function weight", (type) => {
    for (const [lp, ref, gen] of [[-1.3, -0.4, -1.0], [-0.2, -2.5, -0.6], [-2.0, -2.1, -2.4]]) {
      const f = (x: number): number => klTerm(x, ref, type, 20, 10, Math.exp(x - gen), Math.exp(x - gen)).value;
      const fd = (f(lp + 1e-6) - f(lp - 1e-6)) / 2e-6;
      expect(klTerm(lp, ref, type, 20, 10, Math.exp(lp - gen), Math.exp(lp - gen)).dLogprob).toBeCloseTo(fd, 7);
    }
  });
});
