import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { baselineAndStdPerGroup, broadcastToTokens, clipAdvantages, groupAdvantages } from "./advantages.ts";

const LOO = { normalizeRewards: true, leaveOneOut: true };
const PLAIN = { normalizeRewards: true, leaveOneOut: false };

describe("groupAdvantages", () => {
  test("plain baseline, sample std: [2,2] → 0, [1,3] → ∓1/√2 (NeMo test_grpo_advantage_estimator_zero_std)", () => {
    const { advantages, std } = groupAdvantages([2, 2, 1, 3], [0, 0, 1, 1], PLAIN);
    expect(Array.from(advantages)).toEqual([0, 0, expect.closeTo(-1 / Math.SQRT2, 6), expect.closeTo(1 / Math.SQRT2, 6)]);
    expect(std[2]).toBeCloseTo(Math.SQRT2, 12); // Bessel: var = ((1-2)² + (3-2)²) / 1
  });

  test("leave-one-out on [1,0,0,0]: baseline and std are the other three's", () => {
    const { advantages, baseline, std } = groupAdvantages([1, 0, 0, 0], [7, 7, 7, 7], LOO);
    expect(Array.from(baseline)).toEqual([0, expect.closeTo(1 / 3, 12), expect.closeTo(1 / 3, 12), expect.closeTo(1 / 3, 12)]);
    // others of sample 0 are [0,0,0]: std 0, so not normalised → 1 - 0
    expect(std[0]).toBe(0);
    expect(advantages[0]).toBe(1);
    // others of sample 1 are [1,0,0]: mean 1/3, sample var ((2/3)² + 2(1/3)²) / 2 = 1/3
    expect(std[1]).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(advantages[1]).toBeCloseTo(-1 / 3 / (Math.sqrt(1 / 3) + 1e-6), 12);
  });

  test("leave-one-out without normalisation: r_i - mean(others)", () => {
    const { advantages } = groupAdvantages([1, 0, 0, 0], [0, 0, 0, 0], { normalizeRewards: false, leaveOneOut: true });
    expect(Array.from(advantages)).toEqual([1, expect.closeTo(-1 / 3, 12), expect.closeTo(-1 / 3, 12), expect.closeTo(-1 / 3, 12)]);
  });

  test("a pair under leave-one-out has no spread to normalise by: advantages ±1", () => {
    const { advantages, std } = groupAdvantages([1, 0], ["a", "a"], LOO);
    expect(Array.from(advantages)).toEqual([1, -1]);
    expect(Array.from(std)).toEqual([0, 0]);
  });

  test("a group of one gets baseline = reward, advantage 0", () => {
    const { advantages, baseline } = groupAdvantages([0.7, 1, 0], [0, 1, 1], LOO);
    expect(baseline[0]).toBe(0.7);
    expect(advantages[0]).toBe(0);
  });

  test("no variance → exactly 0, even where float sums round (0.1 · 3)", () => {
    for (const opts of [LOO, PLAIN]) {
      const { advantages } = groupAdvantages([0.1, 0.1, 0.1, 0.3, 0.3], [0, 0, 0, 1, 1], opts);
      expect(Array.from(advantages)).toEqual([0, 0, 0, 0, 0]);
    }
  });

  test("property: leave-one-out advantage = n/(n-1) × mean-centred advantage, and sums to 0", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 2, maxLength: 12 }), (r) => {
        const ids = r.map(() => 0);
        const loo = groupAdvantages(r, ids, { normalizeRewards: false, leaveOneOut: true }).advantages;
        const plain = groupAdvantages(r, ids, { normalizeRewards: false, leaveOneOut: false }).advantages;
        const n = r.length;
        let total = 0;
        for (let i = 0; i < n; i++) {
          expect(loo[i]).toBeCloseTo((plain[i] * n) / (n - 1), 9);
          total += loo[i];
        }
        expect(total).toBeCloseTo(0, 9);
      }),
      { numRuns: 200 },
    );
  });
});

describe("baselineAndStdPerGroup", () => {
  test("stdRewards drives the std only; validMask removes a member from its group's statistics", () => {
    const { baseline, std } = baselineAndStdPerGroup([1, 3], [0, 0], { leaveOneOut: false, stdRewards: [5, 5] });
    expect(Array.from(baseline)).toEqual([2, 2]);
    expect(Array.from(std)).toEqual([0, 0]);
    const masked = baselineAndStdPerGroup([1, 3, 100], [0, 0, 0], { leaveOneOut: false, validMask: [1, 1, 0] });
    expect(masked.baseline[0]).toBe(2);
    expect(masked.std[0]).toBeCloseTo(Math.SQRT2, 12);
  });
});

describe("broadcast and clip", () => {
  test("a sample's advantage lands on its generated tokens only", () => {
    const out = broadcastToTokens([1.5, -2], [0, 3, 5], [0, 1, 1, 0, 1]);
    expect(Array.from(out)).toEqual([0, 1.5, 1.5, 0, -2]);
  });

  test("clip bounds are optional per side", () => {
    expect(Array.from(clipAdvantages([-3, 0.5, 4], -1, null))).toEqual([-1, 0.5, 4]);
    expect(Array.from(clipAdvantages([-3, 0.5, 4], -1, 2))).toEqual([-1, 0.5, 2]);
  });
});
