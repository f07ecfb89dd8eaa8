/**
 * Importance weights for the trainer/sampler mismatch: the sampler (π_gen, e.g. vLLM or our engine,
 * maybe one policy version behind, maybe other kernels) drew the tokens, the loss is an expectation
 * under the trainer's π_prev, so each token is reweighted by π_prev / π_gen = exp(prev - gen).
 * The weights are constants for the gradient (detached). Optional truncation:
 *   tis          clamp weights to [min (default 0), max]
 *   icepop       zero tokens whose weight is outside [min, max]
 *   seq-mask-tis zero whole sequences whose geometric-mean weight is outside [min, max]; kept
 *                sequences keep their raw token weights
 * NeMo RL: the "Off-policy (actor) importance-sampling correction" block of `ClippedPGLossFn`.
 * This computes the weights only; whether they multiply the loss is the loss's
 * `useImportanceSamplingCorrection`.
 */
import { MASKED_MEAN_EPSILON, type TruncatedIsType } from "./defaults.ts";
import { combinedMask, maskedMean, tokensPerSequence, type Floats, type PackedSequences } from "./batch.ts";

export interface IsWeightOptions {
  /** GSPO: one weight per sequence, exp(Σ_t mask·(prev - gen)). */
  sequenceLevel: boolean;
  type: TruncatedIsType | null;
  /** upper bound (`truncated_importance_sampling_ratio`); null means no truncation. */
  max: number | null;
  /** lower bound (`truncated_importance_sampling_ratio_min`). */
  min: number | null;
}

export interface IsWeights {
  /** (N,) detached weights after truncation, a sequence's weight repeated on its tokens in sequence-level mode. */
  weights: Float64Array;
  /** (S,) the per-sequence weights in sequence-level mode (they also cover empty sequences); null otherwise. */
  sequenceWeights: Float64Array | null;
  /** fraction of valid tokens (tis, icepop) or sequences (seq-mask-tis) out of bounds; null without truncation. */
  isOobRatio: number | null;
}

/** torch.nan_to_num(x, nan=0, posinf=0, neginf=0): an overflowed weight drops the token instead of exploding it. */
export function finiteOrZero(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

/**
 * prev, gen: (N,) token-aligned logprobs. globalValidToks / globalValidSeqs normalise is_oob_ratio
 * (defaults: this batch's Σ mask and Σ sampleMask).
 */
export function importanceWeights(
  batch: PackedSequences,
  prev: Floats,
  gen: Floats,
  opts: IsWeightOptions,
  globalValidToks?: number,
  globalValidSeqs?: number,
): IsWeights {
  const off = batch.seqOffsets;
  const S = off.length - 1;
  const N = off[S];
  const mask = combinedMask(batch);
  const weights = new Float64Array(N);
  let sequenceWeights: Float64Array | null = null;

  if (opts.sequenceLevel) {
    sequenceWeights = new Float64Array(S);
    for (let s = 0; s < S; s++) {
      let lp = 0;
      for (let t = off[s]; t < off[s + 1]; t++) if (mask[t] !== 0) lp += (prev[t] - gen[t]) * mask[t];
      sequenceWeights[s] = finiteOrZero(Math.exp(lp));
    }
  } else {
    for (let t = 0; t < N; t++) weights[t] = finiteOrZero(Math.exp(prev[t] - gen[t]));
  }
  const broadcast = (): void => {
    if (sequenceWeights) for (let s = 0; s < S; s++) weights.fill(sequenceWeights[s], off[s], off[s + 1]);
  };

  if (opts.max === null) {
    broadcast();
    return { weights, sequenceWeights, isOobRatio: null };
  }
  const max = opts.max;

  switch (opts.type) {
    case "tis":
    case "icepop": {
      const min = opts.type === "tis" ? (opts.min ?? 0) : requireMin(opts);
      const outOfBounds = (w: number): boolean => !(w >= min && w <= max);
      // tis clamps into the bounds; icepop zeroes whatever falls outside them.
      const truncate = (w: number): number => (opts.type === "tis" ? Math.min(Math.max(w, min), max) : outOfBounds(w) ? 0 : w);
      const oob = new Float64Array(N);
      if (sequenceWeights) {
        for (let s = 0; s < S; s++) {
          oob.fill(outOfBounds(sequenceWeights[s]) ? 1 : 0, off[s], off[s + 1]);
          sequenceWeights[s] = truncate(sequenceWeights[s]);
        }
        broadcast();
      } else {
        for (let t = 0; t < N; t++) {
          oob[t] = outOfBounds(weights[t]) ? 1 : 0;
          weights[t] = truncate(weights[t]);
        }
      }
      return { weights, sequenceWeights, isOobRatio: maskedMean(oob, mask, globalValidToks) };
    }
    case "seq-mask-tis": {
      if (sequenceWeights) throw new RangeError("seq-mask-tis masks sequences of token-level weights; it cannot combine with sequence-level ratios");
      const min = requireMin(opts);
      const nTok = tokensPerSequence(batch);
      const dropped = new Float64Array(S);
      const sampleMask = batch.sampleMask ?? new Float64Array(S).fill(1);
      for (let s = 0; s < S; s++) {
        // geo_mean_s = exp(mean over tokenMask'd tokens of (prev - gen)), non-finite differences as 0.
        let sumLog = 0;
        for (let t = off[s]; t < off[s + 1]; t++) {
          if (batch.tokenMask[t] !== 0) sumLog += finiteOrZero(prev[t] - gen[t]) * batch.tokenMask[t];
        }
        const geo = Math.exp(sumLog / (nTok[s] + MASKED_MEAN_EPSILON));
        if (!(geo >= min && geo <= max)) {
          dropped[s] = 1;
          weights.fill(0, off[s], off[s + 1]);
        }
      }
      return { weights, sequenceWeights, isOobRatio: maskedMean(dropped, sampleMask, globalValidSeqs) };
    }
    default:
      throw new RangeError(`truncated importance sampling ratio is set but the type is ${String(opts.type)}`);
  }
}

function requireMin(opts: IsWeightOptions): number {
  if (opts.min === null) throw new RangeError(`${opts.type} needs truncatedImportanceSamplingRatioMin`);
  return opts.min;
}
