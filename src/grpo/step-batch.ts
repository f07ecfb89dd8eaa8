/**
 * The step's trained batch: scored rollouts → group advantages (one per rollout) → packed token
 * samples with the loss's sample mask. Sample filters (sample-filters.ts) run after the
 * advantages, so a filtered sample still counts in its group's baseline (NeMo RL's
 * m_i = ℓ_i·(1 - truncated_i)): the environment's mask_sample always, overlong filtering with
 * `grpo.overlong_filtering`, and samples with no trainable token. A rollout scored as a failure
 * has no samples but its reward is in its group. Not here: the rewards (step-rewards.ts).
 */
import type { TokenSample } from "../rollout/trajectory.ts";
import { clipAdvantages, groupAdvantages } from "./advantages.ts";
import type { Recipe } from "./recipe.ts";
import { maskSampleFilter, overlongFilter } from "./sample-filters.ts";
import type { ScoredRollout } from "./step-rewards.ts";
import type { TrainBatch } from "./trainer.ts";

export interface StepBatch {
  batch: Omit<TrainBatch, "advantages" | "prevLogprobs" | "refLogprobs">;
  samples: TokenSample[];
  /** (S,) per-sample advantage */
  sampleAdvantages: Float64Array;
  /** (B,) the rewards the advantages used, one per scored rollout, in order */
  rolloutRewards: Float64Array;
  /** (B,) each rollout's baseline */
  baseline: Float64Array;
  numMaskSampleFiltered: number;
  numOverlongFiltered: number;
  /** samples left out of the batch: zero advantage under skip_zero_advantage_samples */
  numZeroAdvantageSkipped: number;
}

export function assembleStepBatch(rollouts: readonly ScoredRollout[], recipe: Recipe): StepBatch {
  const g = recipe.grpo;
  const rewards = Float64Array.from(rollouts, (r) => r.reward);
  const adv = groupAdvantages(
    rewards,
    rollouts.map((r) => r.group),
    { normalizeRewards: g.normalize_rewards, leaveOneOut: g.use_leave_one_out_baseline },
  );
  const advantages = clipAdvantages(adv.advantages, g.advantage_clip_low, g.advantage_clip_high);
  const samples: TokenSample[] = [];
  const perSample: number[] = [];
  let numZeroAdvantageSkipped = 0;
  rollouts.forEach((r, i) => {
    for (const s of r.ok?.conversion.samples ?? []) {
      if (s.tokens.length === 0) continue;
      if (g.skip_zero_advantage_samples && advantages[i] === 0 && recipe.loss_fn.reference_policy_kl_penalty === 0) {
        numZeroAdvantageSkipped++;
        continue;
      }
      samples.push(s);
      perSample.push(advantages[i]);
    }
  });
  const S = samples.length;
  const seqOffsets = new Int32Array(S + 1);
  samples.forEach((s, i) => (seqOffsets[i + 1] = seqOffsets[i] + s.tokens.length));
  const N = seqOffsets[S];
  const tokens = new Int32Array(N);
  const tokenMask = new Float64Array(N);
  const generationLogprobs = new Float64Array(N);
  samples.forEach((s, i) => {
    const o = seqOffsets[i];
    tokens.set(s.tokens, o);
    for (let t = 0; t < s.tokens.length; t++) tokenMask[o + t] = s.lossMask[t];
    generationLogprobs.set(s.generationLogprobs, o);
    tokenMask[o] = 0; // a sequence's first token has no logprob
  });
  // the loss's per-sample multiplier, filter by filter, each counted
  let sampleMask: Float64Array = Float64Array.from(samples, (s) => (s.noTrainableTokens !== null ? 0 : 1));
  const byEnv = maskSampleFilter(sampleMask, samples.map((s) => s.maskSample));
  sampleMask = byEnv.lossMultiplier;
  let numOverlongFiltered = 0;
  if (g.overlong_filtering) {
    const f = overlongFilter(sampleMask, samples.map((s) => s.truncated));
    sampleMask = f.lossMultiplier;
    numOverlongFiltered = f.numFiltered;
  }
  return {
    batch: { tokens, seqOffsets, tokenMask, sampleMask, generationLogprobs },
    samples,
    sampleAdvantages: Float64Array.from(perSample),
    rolloutRewards: rewards,
    baseline: adv.baseline,
    numMaskSampleFiltered: byEnv.numFiltered,
    numOverlongFiltered,
    numZeroAdvantageSkipped,
  };
}

/** Samples [a, e) of a batch as their own batch. */
export function sliceBatch(b: TrainBatch, a: number, e: number): TrainBatch {
  const t0 = b.seqOffsets[a];
  const t1 = b.seqOffsets[e];
  const tok = <T extends Float64Array | undefined>(x: T) => (x ? x.subarray(t0, t1) : undefined) as T;
  const seqOffsets = new Int32Array(e - a + 1);
  for (let s = a; s <= e; s++) seqOffsets[s - a] = b.seqOffsets[s] - t0;
  return {
    tokens: b.tokens.subarray(t0, t1),
    seqOffsets,
    tokenMask: b.tokenMask.subarray(t0, t1),
    sampleMask: b.sampleMask.subarray(a, e),
    generationLogprobs: b.generationLogprobs.subarray(t0, t1),
    advantages: b.advantages.subarray(t0, t1),
    prevLogprobs: tok(b.prevLogprobs),
    refLogprobs: tok(b.refLogprobs),
  };
}
