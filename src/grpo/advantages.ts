/**
 * GRPO group advantages: one trajectory-level reward per sample, a baseline from the sample's prompt
 * group, optional std normalisation, then the same advantage on every generated token of the sample.
 *
 * Semantics are NeMo RL's `calculate_baseline_and_std_per_prompt` (nemo_rl/algorithms/utils.py) and
 * `GRPOAdvantageEstimator.compute_advantage` (advantage_estimator.py):
 *  - leave-one-out (default): baseline_i = mean of the OTHER valid members' rewards, and std_i is the
 *    sample std (Bessel) of those others too, so with rewards [1,0,0,0] the lone 1 has std 0 and is
 *    not normalised while the zeros are;
 *  - plain: baseline = group mean, std = sample std of the group (Bessel);
 *  - a group with ≤ 1 valid member gets baseline = reward (advantage 0);
 *  - normalise: A = (r - b) / (std + 1e-6), only where std > 0.
 * One deliberate tightening: a group whose rewards are all equal gets advantage exactly 0, where the
 * float formulas could leave ~1e-17.
 *
 * B = samples (rollouts), N = packed tokens.
 */
import { ADVANTAGE_STD_EPSILON } from "./defaults.ts";
import type { Floats } from "./batch.ts";

/** Group id per sample: a task index or any key; samples with equal ids share a baseline. */
export type GroupIds = ArrayLike<number | string>;

/** Sample indices per group, in order of first appearance. */
export function groupIndices(groupIds: GroupIds): Map<number | string, number[]> {
  const groups = new Map<number | string, number[]>();
  for (let i = 0; i < groupIds.length; i++) {
    const g = groups.get(groupIds[i]);
    if (g) g.push(i);
    else groups.set(groupIds[i], [i]);
  }
  return groups;
}

export interface BaselineOptions {
  leaveOneOut: boolean;
  /** (B,) 0 excludes a sample from its group's statistics. Default all 1 (as GRPO passes). */
  validMask?: Floats;
  /** (B,) rewards used only for the std (DAPO: raw metric while the baseline uses the shaped reward). */
  stdRewards?: Floats;
}

/** (B,) baseline and (B,) std per sample. */
export function baselineAndStdPerGroup(
  rewards: Floats,
  groupIds: GroupIds,
  opts: BaselineOptions,
): { baseline: Float64Array; std: Float64Array } {
  const B = rewards.length;
  if (groupIds.length !== B) throw new RangeError(`groupIds has ${groupIds.length} entries, rewards ${B}`);
  const valid = opts.validMask;
  const sr = opts.stdRewards ?? rewards;
  const baseline = new Float64Array(B);
  const std = new Float64Array(B);
  for (const idx of groupIndices(groupIds).values()) {
    let validCount = 0;
    let sumR = 0;
    let sumS = 0;
    let sumS2 = 0;
    for (const j of idx) {
      const v = valid ? valid[j] : 1;
      validCount += v;
      sumR += rewards[j] * v;
      sumS += sr[j] * v;
      sumS2 += sr[j] * sr[j] * v;
    }
    if (validCount <= 1) {
      // No one to compare with: baseline = reward so the sample contributes no gradient.
      for (const j of idx) baseline[j] = rewards[j];
      continue;
    }
    const numValid = validCount - (opts.leaveOneOut ? 1 : 0);
    for (const i of idx) {
      // Leave-one-out removes sample i from the sums (the `1 - I` mask matrix in NeMo RL).
      const v = opts.leaveOneOut ? (valid ? valid[i] : 1) : 0;
      const b = (sumR - rewards[i] * v) / numValid;
      const mean = (sumS - sr[i] * v) / numValid;
      const meanSq = (sumS2 - sr[i] * sr[i] * v) / numValid;
      baseline[i] = b;
      // Bessel over the numValid values the mean was taken over; one value has no spread.
      const variance = numValid > 1 ? (meanSq - mean * mean) * (numValid / (numValid - 1)) : 0;
      std[i] = variance > 0 ? Math.sqrt(variance) : 0;
    }
  }
  return { baseline, std };
}

export interface AdvantageOptions {
  normalizeRewards: boolean;
  leaveOneOut: boolean;
}

/** (B,) per-sample GRPO advantages, with the baseline and std they came from (for metrics). */
export function groupAdvantages(
  rewards: Floats,
  groupIds: GroupIds,
  opts: AdvantageOptions,
): { advantages: Float64Array; baseline: Float64Array; std: Float64Array } {
  const { baseline, std } = baselineAndStdPerGroup(rewards, groupIds, { leaveOneOut: opts.leaveOneOut });
  const B = rewards.length;
  const advantages = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    let a = rewards[i] - baseline[i];
    // Don't sharpen groups with no spread: dividing a ~0 by a ~0 std would blow up noise.
    if (opts.normalizeRewards && std[i] > 0) a /= std[i] + ADVANTAGE_STD_EPSILON;
    advantages[i] = a;
  }
  for (const idx of groupIndices(groupIds).values()) {
    if (idx.every((j) => rewards[j] === rewards[idx[0]])) for (const j of idx) advantages[j] = 0;
  }
  return { advantages, baseline, std };
}

/** `advantage_clip_low/high`: clamp after normalisation; null leaves that side open. */
export function clipAdvantages(advantages: Floats, low: number | null, high: number | null): Float64Array {
  const out = Float64Array.from(advantages);
  for (let i = 0; i < out.length; i++) {
    if (low !== null && out[i] < low) out[i] = low;
    if (high !== null && out[i] > high) out[i] = high;
  }
  return out;
}

/**
 * (N,) token advantages: sample s's advantage on each of its tokens with tokenMask ≠ 0, 0 elsewhere.
 * Every generated token of every turn gets the same trajectory-level advantage (NeMo RL §4.5).
 */
export function broadcastToTokens(perSample: Floats, seqOffsets: Floats, tokenMask: Floats): Float64Array {
  const S = seqOffsets.length - 1;
  if (perSample.length !== S) throw new RangeError(`${perSample.length} advantages for ${S} sequences`);
  const out = new Float64Array(seqOffsets[S]);
  for (let s = 0; s < S; s++) {
    for (let t = seqOffsets[s]; t < seqOffsets[s + 1]; t++) out[t] = tokenMask[t] !== 0 ? perSample[s] : 0;
  }
  return out;
}
