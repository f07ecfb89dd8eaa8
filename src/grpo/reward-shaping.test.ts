import { describe, expect, test } from "vitest";
import { applyRewardShaping, scaleRewards } from "./reward-shaping.ts";
import { REWARD_SCALING_DEFAULTS, REWARD_SHAPING_DEFAULTS } from "./defaults.ts";

describe("reward transforms", () => {
  test("scaling clamps to the source range, then maps linearly", () => {
    const r = scaleRewards([-1, 0.5, 2], { ...REWARD_SCALING_DEFAULTS, enabled: true, targetMin: -1, targetMax: 1 });
    expect(Array.from(r.rewards)).toEqual([-1, 0, 1]);
    expect(r.numOutOfRange).toBe(2);
  });

  test("DAPO overlong penalty: 0 up to max - buffer, then linear", () => {
    const cfg = { ...REWARD_SHAPING_DEFAULTS, enabled: true, overlongBufferLength: 100, overlongBufferPenalty: 1, maxResponseLength: 500 };
    const r = applyRewardShaping([1, 1, 1, 1], { responseLengths: [300, 400, 450, 600] }, cfg);
    expect(Array.from(r.rewards)).toEqual([1, 1, 0.5, -1]);
    expect(Array.from(r.unshapedRewards!)).toEqual([1, 1, 1, 1]);
  });

  test("stop-properly penalty scales truncated rewards and wins over the DAPO fields", () => {
    const cfg = { ...REWARD_SHAPING_DEFAULTS, enabled: true, maxResponseLength: 10, stopProperlyPenaltyCoef: 0.25 };
    const r = applyRewardShaping([1, 1], { truncated: [true, false], responseLengths: [99, 99] }, cfg);
    expect(Array.from(r.rewards)).toEqual([0.25, 1]);
  });

  test("disabled shaping is the identity; enabled DAPO without its fields is an error", () => {
    expect(applyRewardShaping([0.3], {}, REWARD_SHAPING_DEFAULTS).unshapedRewards).toBeNull();
    expect(() => applyRewardShaping([1], { responseLengths: [1] }, { ...REWARD_SHAPING_DEFAULTS, enabled: true })).toThrow(/maxResponseLength/);
  });
});
