/**
 * Reward transforms applied before advantages, in NeMo RL's order: `scale_rewards` (grpo.py), then
 * `apply_reward_shaping` (reward_functions.py): either the stop-properly penalty or DAPO's overlong
 * penalty. Pure functions over (B,) rewards; each returns a new array.
 */
import type { RewardScalingConfig, RewardShapingConfig } from "./defaults.ts";
import type { Floats } from "./batch.ts";

/** Clamp each reward to [sourceMin, sourceMax], then map that interval linearly onto [targetMin, targetMax]. */
export function scaleRewards(rewards: Floats, cfg: RewardScalingConfig): { rewards: Float64Array; numOutOfRange: number } {
  const out = Float64Array.from(rewards);
  if (!cfg.enabled) return { rewards: out, numOutOfRange: 0 };
  let numOutOfRange = 0;
  for (let i = 0; i < out.length; i++) {
    if (out[i] < cfg.sourceMin || out[i] > cfg.sourceMax) numOutOfRange++;
    const r = Math.min(Math.max(out[i], cfg.sourceMin), cfg.sourceMax);
    out[i] = cfg.targetMin + ((r - cfg.sourceMin) / (cfg.sourceMax - cfg.sourceMin)) * (cfg.targetMax - cfg.targetMin);
  }
  return { rewards: out, numOutOfRange };
}

export interface ShapingInputs {
  /** (B,) generated tokens per sample; the DAPO penalty needs it. NeMo RL uses the first assistant turn's length. */
  responseLengths?: ArrayLike<number>;
  /** (B,) the stop-properly penalty needs it. */
  truncated?: ArrayLike<boolean>;
}

export interface ShapedRewards {
  rewards: Float64Array;
  /** the rewards before shaping (DAPO dynamic sampling filters on these); null when shaping is off. */
  unshapedRewards: Float64Array | null;
}

/**
 * stopProperlyPenaltyCoef set: truncated samples' rewards × coef, and the DAPO fields are ignored.
 * Otherwise DAPO: with L_exp = maxResponseLength - overlongBufferLength,
 *   r += min(-(len - L_exp) / overlongBufferLength · overlongBufferPenalty, 0)
 * i.e. no penalty up to L_exp, growing linearly to -penalty at maxResponseLength, beyond it further.
 */
export function applyRewardShaping(rewards: Floats, inputs: ShapingInputs, cfg: RewardShapingConfig): ShapedRewards {
  const out = Float64Array.from(rewards);
  if (!cfg.enabled) return { rewards: out, unshapedRewards: null };
  const unshapedRewards = Float64Array.from(rewards);

  if (cfg.stopProperlyPenaltyCoef !== null) {
    const coef = cfg.stopProperlyPenaltyCoef;
    if (!(coef >= 0 && coef <= 1)) throw new RangeError(`stopProperlyPenaltyCoef must be in [0, 1], got ${coef}`);
    const truncated = inputs.truncated;
    if (!truncated || truncated.length !== out.length) throw new RangeError("stop-properly penalty needs one truncated flag per sample");
    for (let i = 0; i < out.length; i++) if (truncated[i]) out[i] *= coef;
    return { rewards: out, unshapedRewards };
  }

  const buffer = cfg.overlongBufferLength;
  const penalty = cfg.overlongBufferPenalty;
  const maxLen = cfg.maxResponseLength;
  if (buffer === null || penalty === null || maxLen === null) {
    throw new RangeError("reward shaping is enabled: set overlongBufferLength, overlongBufferPenalty and maxResponseLength (DAPO), or stopProperlyPenaltyCoef");
  }
  if (!(penalty >= 0)) throw new RangeError(`overlongBufferPenalty must be >= 0, got ${penalty}`);
  const lengths = inputs.responseLengths;
  if (!lengths || lengths.length !== out.length) throw new RangeError("DAPO overlong penalty needs one response length per sample");
  const expected = maxLen - buffer;
  for (let i = 0; i < out.length; i++) {
    const exceed = lengths[i] - expected;
    out[i] += Math.min((-exceed / buffer) * penalty, 0);
  }
  return { rewards: out, unshapedRewards };
}
