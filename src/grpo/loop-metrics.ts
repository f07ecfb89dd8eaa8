/**
 * The loop's metric groups, one metrics.jsonl line's worth each: validation, the step's rollouts
 * (rewards, failures, filters, dynamic sampling) and its optimizer steps. Names follow NeMo RL's
 * `train/` and `validation/` keys where it has one. Not here: the per-token definitions
 * (metrics.ts), writing the file (metrics-log.ts).
 */
import type { RolloutOutcome } from "../rollout/outcome.ts";
import { summarize } from "../rollout/stats.ts";
import { combinedMask } from "./batch.ts";
import { advantageStats, baselineRewardPct, seqMultProbError } from "./metrics.ts";
import type { MetricsLine } from "./metrics-log.ts";
import type { StepBatch } from "./step-batch.ts";
import { meanRewards } from "./step-rewards.ts";
import type { StepRollouts } from "./step-rollouts.ts";
import type { TrainBatch } from "./trainer.ts";

export interface ValidationResult {
  accuracy: number;
  perAgent: Record<string, number>;
  avgLength: number;
  seconds: number;
  n: number;
  /** rollouts that failed after retries (each counted as reward 0 in accuracy) */
  failed: number;
}

export function validationMetrics(v: ValidationResult): MetricsLine {
  const m: MetricsLine = {
    "validation/accuracy": v.accuracy,
    "validation/avg_length": v.avgLength,
    "validation/num_samples": v.n,
    "validation/failed_rollouts": v.failed,
    "timing/validation/total": v.seconds,
  };
  for (const [agent, acc] of Object.entries(v.perAgent)) m[`validation/${agent}/accuracy`] = acc;
  return m;
}

/**
 * Rewards, failures and filters of a step. train/reward is the mean environment reward over the
 * rollouts that took part in advantages (failures per grpo.failed_rollout_policy); with dynamic
 * sampling it spans every generation batch and train/filtered_reward covers the trained groups.
 */
export function rolloutMetrics(step: StepRollouts, sb: StepBatch, dynamicSampling: boolean): MetricsLine {
  const ok = step.outcomes.filter((o): o is Extract<RolloutOutcome, { kind: "ok" }> => o.kind === "ok");
  const { mean, perAgent } = meanRewards(step.scored);
  const samples = ok.flatMap((o) => o.conversion.samples);
  const turns = summarize(samples.map((s) => s.turns));
  const total = summarize(samples.map((s) => s.tokens.length));
  const gen = summarize(samples.map((s) => s.lossMask.reduce((a, b) => a + b, 0)));
  const breaks = ok.reduce((a, o) => a + o.conversion.breaks.length, 0);
  const pct = baselineRewardPct(sb.baseline);
  const m: MetricsLine = {
    "train/reward": mean,
    "train/num_rollouts": step.outcomes.length,
    "train/failed_rollouts": step.failed,
    "train/failed_rollouts_scored_as_failure": step.scoredAsFailure,
    "train/num_samples": samples.length,
    "train/num_trained_samples": sb.samples.length,
    "train/num_mask_sample_filtered": sb.numMaskSampleFiltered,
    "train/num_overlong_filtered": sb.numOverlongFiltered,
    "train/num_zero_advantage_skipped": sb.numZeroAdvantageSkipped,
    "train/turns_per_sample/mean": turns.mean,
    "train/turns_per_sample/max": turns.max,
    "train/total_tokens_per_sample/mean": total.mean,
    "train/gen_tokens_per_sample/mean": gen.mean,
    "train/total_num_tokens": samples.reduce((a, s) => a + s.tokens.length, 0),
    "train/truncation_rate": samples.length ? samples.filter((s) => s.truncated).length / samples.length : 0,
    "train/contiguity_breaks": breaks,
    "train/baseline_reward/pct_0": pct.pct0,
    "train/baseline_reward/pct_1": pct.pct1,
    "train/baseline_reward/pct_mixed": pct.pctMixed,
  };
  const used = sb.rolloutRewards;
  m["train/shaped_reward"] = used.length ? used.reduce((a, b) => a + b, 0) / used.length : 0;
  if (step.numOutOfRange > 0) m["train/reward_scaling/num_out_of_range"] = step.numOutOfRange;
  if (dynamicSampling) {
    m["train/filtered_reward"] = meanRewards(step.trained).mean;
    m["train/dynamic_sampling_num_gen_batches"] = step.genBatches;
    m["train/dynamic_sampling_num_discarded_valid_samples"] = step.discardedValidSamples;
    m["train/dynamic_sampling_num_zero_variance_groups"] = step.zeroVarianceGroups;
  }
  for (const [agent, r] of Object.entries(perAgent)) m[`train/${agent}/reward`] = r;
  const failures = new Map<string, number>();
  for (const o of step.outcomes) if (o.kind === "failed") failures.set(o.errorClass, (failures.get(o.errorClass) ?? 0) + 1);
  for (const [cls, n] of failures) m[`train/failed_rollouts/${cls}`] = n;
  return m;
}

export function trainMetrics(steps: Record<string, number>[], batch: TrainBatch, prev: Float64Array): MetricsLine {
  const m: MetricsLine = {};
  if (steps.length === 0) return m;
  const mean = (k: string) => steps.reduce((a, s) => a + (s[k] ?? 0), 0) / steps.length;
  const key: Record<string, string> = {
    loss: "train/loss",
    probsRatio: "train/probs_ratio",
    probsRatioClamped: "train/probs_ratio_clamped",
    clipFraction: "train/clip_fraction",
    klPenalty: "train/kl_penalty",
    tokenMultProbError: "train/token_mult_prob_error",
    genKlError: "train/gen_kl_error",
    policyKlError: "train/policy_kl_error",
    jsDivergenceError: "train/js_divergence_error",
    samplingImportanceRatio: "train/sampling_importance_ratio",
    isRatioMean: "train/is_ratio/mean",
    approxEntropy: "train/approx_entropy",
    entropy: "train/entropy",
    gradNorm: "train/grad_norm",
    lr: "train/lr",
  };
  for (const [k, name] of Object.entries(key)) m[name] = mean(k);
  m["train/probs_ratio_min"] = Math.min(...steps.map((s) => s.probsRatioMin));
  m["train/probs_ratio_max"] = Math.max(...steps.map((s) => s.probsRatioMax));
  m["train/is_ratio/min"] = Math.min(...steps.map((s) => s.isRatioMin));
  m["train/is_ratio/max"] = Math.max(...steps.map((s) => s.isRatioMax));
  m["train/num_optimizer_steps"] = steps.length;
  const mask = combinedMask(batch);
  const a = advantageStats(batch.advantages, mask);
  Object.assign(m, { "train/advantages/mean": a.mean, "train/advantages/min": a.min, "train/advantages/max": a.max, "train/advantages/sum": a.sum });
  const e = seqMultProbError(batch, prev, batch.generationLogprobs);
  m["train/max_seq_mult_prob_error"] = e.max;
  m["train/global_valid_toks"] = mask.reduce((x, y) => x + y, 0);
  return m;
}
