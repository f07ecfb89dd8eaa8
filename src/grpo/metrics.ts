/**
 * The per-step health metrics NeMo RL reports (its §8 "train/" keys), as pure functions over the
 * packed batch. All token means are NeMo's masked_mean over mask = tokenMask · sampleMask, so a
 * global token count can be passed to make microbatch values add up. Definitions follow
 * `ClippedPGLossFn.__call__` and `compute_and_apply_seq_logprob_error_masking` in NeMo RL; the
 * healthy ranges (docs/guides/grpo.md, docs/adding-new-models.md) are beside each.
 * prev = trainer logprobs before the update, gen = sampler logprobs, curr = trainer logprobs now.
 */
import type { KlType } from "./defaults.ts";
import { klEstimate } from "./kl.ts";
import { combinedMask, maskedMean, type Floats, type PackedSequences } from "./batch.ts";

/**
 * `token_mult_prob_error` = mean_t exp(|gen - prev|): 1.0 is a perfect trainer/sampler match;
 * NeMo RL's threshold for equal precision is 1.05 (CI medians < 1.1 / < 1.05 / < 1.02).
 */
export function tokenMultProbError(prev: Floats, gen: Floats, mask: Floats, globalValidToks?: number): number {
  const v = new Float64Array(mask.length);
  for (let t = 0; t < mask.length; t++) if (mask[t] !== 0) v[t] = Math.exp(Math.abs(gen[t] - prev[t]) * mask[t]);
  return maskedMean(v, mask, globalValidToks);
}

/** `gen_kl_error` = KL(P_gen ‖ P_train) with the loss's kl type, logr = prev - gen. Acceptable below ~1e-3. */
export function genKlError(prev: Floats, gen: Floats, mask: Floats, type: KlType, globalValidToks?: number): number {
  const v = new Float64Array(mask.length);
  for (let t = 0; t < mask.length; t++) if (mask[t] !== 0) v[t] = klEstimate(gen[t], prev[t], type);
  return maskedMean(v, mask, globalValidToks);
}

/** `policy_kl_error` = KL(P_train ‖ P_gen), logr = gen - prev. */
export function policyKlError(prev: Floats, gen: Floats, mask: Floats, type: KlType, globalValidToks?: number): number {
  const v = new Float64Array(mask.length);
  for (let t = 0; t < mask.length; t++) if (mask[t] !== 0) v[t] = klEstimate(prev[t], gen[t], type);
  return maskedMean(v, mask, globalValidToks);
}

/** `js_divergence_error`: ½ KL(P_train ‖ M) + ½ KL(P_gen ‖ M), M = ½(P_train + P_gen), each by k3. */
export function jsDivergenceError(prev: Floats, gen: Floats, mask: Floats, globalValidToks?: number): number {
  const v = new Float64Array(mask.length);
  for (let t = 0; t < mask.length; t++) {
    if (mask[t] === 0) continue;
    // log M = log(½e^prev + ½e^gen), computed as logaddexp - log 2 so tiny probabilities don't underflow.
    const hi = Math.max(prev[t], gen[t]);
    const logM = hi + Math.log(0.5 * Math.exp(prev[t] - hi) + 0.5 * Math.exp(gen[t] - hi));
    const a = prev[t] - logM;
    const b = gen[t] - logM;
    v[t] = 0.5 * (Math.exp(a) - a - 1) + 0.5 * (Math.exp(b) - b - 1);
  }
  return maskedMean(v, mask, globalValidToks);
}

/** `approx_entropy` = -E_gen[(π_curr / π_gen) · log π_curr] over the sampled tokens. */
export function approxEntropy(curr: Floats, gen: Floats, mask: Floats, globalValidToks?: number): number {
  const v = new Float64Array(mask.length);
  for (let t = 0; t < mask.length; t++) if (mask[t] !== 0) v[t] = Math.exp(curr[t] - gen[t]) * curr[t];
  return -maskedMean(v, mask, globalValidToks);
}

/** Passthrough for a true per-token entropy the trainer computed from full logits: its masked mean. */
export function meanEntropy(entropy: Floats, mask: Floats, globalValidToks?: number): number {
  return maskedMean(entropy, mask, globalValidToks);
}

export interface RatioStats {
  mean: number;
  min: number;
  max: number;
}

/** Raw token IS ratio exp(prev - gen) over valid tokens, before any truncation. Empty → NaN/±Inf like NeMo. */
export function isRatioStats(prev: Floats, gen: Floats, mask: Floats): RatioStats {
  let n = 0;
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let t = 0; t < mask.length; t++) {
    if (mask[t] === 0) continue;
    const r = Math.exp(prev[t] - gen[t]);
    n++;
    s += r;
    if (r < min) min = r;
    if (r > max) max = r;
  }
  return { mean: n > 0 ? s / n : NaN, min, max };
}

export interface SeqMultProbError {
  /** (S,) mean_t exp(|gen - prev|) over each sequence's valid tokens; 0 where it has none. */
  perSequence: Float64Array;
  /** (S,) 1 where the sequence has at least one valid token. */
  valid: Uint8Array;
  max: number;
  mean: number;
  min: number;
}

/** `{max,mean,min}_seq_mult_prob_error`: token_mult_prob_error per sequence; empty sequences don't count. */
export function seqMultProbError(batch: PackedSequences, prev: Floats, gen: Floats): SeqMultProbError {
  const off = batch.seqOffsets;
  const S = off.length - 1;
  const mask = combinedMask(batch);
  const perSequence = new Float64Array(S);
  const valid = new Uint8Array(S);
  for (let s = 0; s < S; s++) {
    let num = 0;
    let den = 0;
    for (let t = off[s]; t < off[s + 1]; t++) {
      if (mask[t] === 0) continue;
      num += Math.exp(Math.abs(gen[t] - prev[t]) * mask[t]) * mask[t];
      den += mask[t];
    }
    if (den > 0) {
      perSequence[s] = num / Math.max(den, 1);
      valid[s] = 1;
    }
  }
  return { perSequence, valid, ...statsWhere(perSequence, valid) };
}

/** max/mean/min of values where keep ≠ 0; all 0 when nothing is kept (NeMo's placeholder). */
export function statsWhere(values: Floats, keep: Floats): { max: number; mean: number; min: number } {
  const { max, mean, min } = summaryWhere(values, keep);
  return { max, mean, min };
}

/** statsWhere plus the sum of the kept values. */
function summaryWhere(values: Floats, keep: Floats): { max: number; mean: number; min: number; sum: number } {
  let n = 0;
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (keep[i] === 0) continue;
    n++;
    s += values[i];
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  return n === 0 ? { max: 0, mean: 0, min: 0, sum: 0 } : { max, mean: s / n, min, sum: s };
}

export interface AdvantageStats {
  mean: number;
  max: number;
  min: number;
  sum: number;
}

/** `advantages/{mean,max,min,sum}` over valid tokens (mask ≠ 0). */
export function advantageStats(advantages: Floats, mask: Floats): AdvantageStats {
  const { mean, max, min, sum } = summaryWhere(advantages, mask);
  return { mean, max, min, sum };
}

/**
 * `baseline_reward/pct_{0,1,mixed}`: the share (in %) of samples whose baseline is exactly 0 or 1.
 * With 0/1 rewards and a leave-one-out baseline: pct_0 = groups with no other success, pct_1 = no
 * other failure, mixed = the samples that learn something.
 */
export function baselineRewardPct(baseline: Floats): { pct0: number; pct1: number; pctMixed: number } {
  const B = baseline.length;
  if (B === 0) return { pct0: 0, pct1: 0, pctMixed: 0 };
  let zeros = 0;
  let ones = 0;
  for (let i = 0; i < B; i++) {
    if (baseline[i] === 0) zeros++;
    else if (baseline[i] === 1) ones++;
  }
  const pct0 = (100 * zeros) / B;
  const pct1 = (100 * ones) / B;
  return { pct0, pct1, pctMixed: 100 - pct0 - pct1 };
}

export interface StepThroughput {
  /** tokens of every sample the step's rollouts produced (train/total_num_tokens) */
  sampleTokens: number;
  /** tokens the policy generated in those samples (their loss-mask tokens) */
  generatedTokens: number;
  /** tokens of the samples that went into the optimizer step (after filters that drop samples) */
  trainedTokens: number;
  generationS: number;
  trainingS: number;
  stepS: number;
}

/**
 * `performance/*` of a step. NeMo RL's tokens_per_sec is train/total_num_tokens over the step
 * time; here filters (skip_zero_advantage_samples, dynamic sampling) can drop samples before
 * training, so what was trained gets its own names instead of standing in for what was generated.
 */
export function throughputMetrics(t: StepThroughput): Record<string, number> {
  const per = (n: number, s: number) => n / Math.max(1e-9, s);
  return {
    "performance/tokens_per_sec": per(t.sampleTokens, t.stepS),
    "performance/trained_tokens_per_sec": per(t.trainedTokens, t.stepS),
    "performance/generation_tokens_per_sec": per(t.generatedTokens, t.generationS),
    "performance/policy_training_tokens_per_sec": per(t.trainedTokens, t.trainingS),
  };
}
