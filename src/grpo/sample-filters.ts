/**
 * Per-sample loss multipliers: which whole samples the loss ignores. Each returns a new (B,)
 * multiplier (the loss's sampleMask) and a count for the metrics. Filtered samples still count in
 * their group's baseline and std: the advantages are computed before these run (NeMo RL docs:
 * m_i = ℓ_i·(1 - truncated_i)). NeMo RL: the `data_processing` block of `grpo_train`,
 * `_apply_mask_sample_filter`, `compute_and_apply_seq_logprob_error_masking`.
 */
import type { Floats, PackedSequences } from "./batch.ts";
import { seqMultProbError, statsWhere } from "./metrics.ts";

export interface FilteredMultiplier {
  /** (B,) the multiplier with filtered samples at 0. */
  lossMultiplier: Float64Array;
  /** samples this filter zeroed (whatever their multiplier was before). */
  numFiltered: number;
}

function zeroWhere(lossMultiplier: Floats, flags: ArrayLike<boolean | number>): FilteredMultiplier {
  if (flags.length !== lossMultiplier.length) throw new RangeError(`${flags.length} flags for ${lossMultiplier.length} samples`);
  const out = Float64Array.from(lossMultiplier);
  let numFiltered = 0;
  for (let i = 0; i < out.length; i++) {
    if (flags[i]) {
      out[i] = 0;
      numFiltered++;
    }
  }
  return { lossMultiplier: out, numFiltered };
}

/** `overlong_filtering`: a truncated sample's reward says little about its tokens, so don't train on it. */
export function overlongFilter(lossMultiplier: Floats, truncated: ArrayLike<boolean>): FilteredMultiplier {
  return zeroWhere(lossMultiplier, truncated);
}

/** The environment's own flag (`instance_config.mask_sample`); counted as `num_mask_sample_filtered`. */
export function maskSampleFilter(lossMultiplier: Floats, maskSample: ArrayLike<boolean>): FilteredMultiplier {
  return zeroWhere(lossMultiplier, maskSample);
}

export interface SeqLogprobErrorMasking {
  /** (S,) the new sampleMask: sequences over the threshold at 0. */
  sampleMask: Float64Array;
  maxSeqMultProbError: number;
  meanSeqMultProbError: number;
  minSeqMultProbError: number;
  maxSeqMultProbErrorAfterMask: number;
  meanSeqMultProbErrorAfterMask: number;
  minSeqMultProbErrorAfterMask: number;
  numMaskedSeqsByLogprobError: number;
  /** share of the masked sequences whose reward was exactly 1. */
  maskedCorrectPct: number;
}

/**
 * `seq_logprob_error_threshold`: mask sequences whose mean exp(|gen - prev|) exceeds the threshold
 * (same scale as token_mult_prob_error, e.g. 1.5); null only measures. Unlike masked importance
 * sampling this uses |gen - prev|, so it catches drift in either direction.
 */
export function seqLogprobErrorMask(
  batch: PackedSequences,
  prev: Floats,
  gen: Floats,
  rewards: Floats,
  threshold: number | null,
): SeqLogprobErrorMasking {
  const S = batch.seqOffsets.length - 1;
  const err = seqMultProbError(batch, prev, gen);
  const before = { max: err.max, mean: err.mean, min: err.min };
  const sampleMask = batch.sampleMask ? Float64Array.from(batch.sampleMask) : new Float64Array(S).fill(1);
  let numMasked = 0;
  let maskedCorrect = 0;
  let after = before;
  if (threshold !== null) {
    const kept = new Uint8Array(S);
    for (let s = 0; s < S; s++) {
      const original = sampleMask[s];
      const keep = err.perSequence[s] <= threshold;
      sampleMask[s] = keep ? original : 0;
      if (original !== 0 && !keep) {
        numMasked++;
        if (rewards[s] === 1) maskedCorrect++;
      }
      kept[s] = keep && original !== 0 && err.valid[s] ? 1 : 0;
    }
    after = statsWhere(err.perSequence, kept);
  }
  return {
    sampleMask,
    maxSeqMultProbError: before.max,
    meanSeqMultProbError: before.mean,
    minSeqMultProbError: before.min,
    maxSeqMultProbErrorAfterMask: after.max,
    meanSeqMultProbErrorAfterMask: after.mean,
    minSeqMultProbErrorAfterMask: after.min,
    numMaskedSeqsByLogprobError: numMasked,
    maskedCorrectPct: numMasked > 0 ? maskedCorrect / numMasked : 0,
  };
}
