/**
 * The packed token batch every GRPO function here reads, and the masked means they share.
 *
 * S sequences are laid end to end: N tokens in all, sequence s owning tokens
 * [seqOffsets[s], seqOffsets[s+1]). No padding. Per-token arrays are token-aligned: entry t of a
 * logprob array is log p(tokens[t] | tokens[<t]), so the caller has already done NeMo RL's `[:, 1:]`
 * shift, and a sequence's first token (which has no logprob) carries tokenMask 0.
 *
 * Masks are numbers, normally 0/1, and multiply like NeMo RL's: mask_t = tokenMask_t · sampleMask_s.
 */
import { MASKED_MEAN_EPSILON } from "./defaults.ts";

/** Anything indexable by number: Float32Array, Float64Array, Int32Array, number[]. */
export type Floats = ArrayLike<number>;

export interface PackedSequences {
  /** (S+1,) offsets into the token arrays, seqOffsets[0] = 0, non-decreasing. */
  seqOffsets: Floats;
  /** (N,) 1 on tokens that are trained (generated tokens), 0 on context. */
  tokenMask: Floats;
  /** (S,) 0 drops a whole sequence from the loss (overlong filter, mask_sample, logprob-error mask). Default all 1. */
  sampleMask?: Floats;
}

export class BatchShapeError extends Error {
  override readonly name = "BatchShapeError";
}

/** Checks offsets and that each named per-token array has N entries; returns [S, N]. */
export function checkPacked(batch: PackedSequences, perToken: Record<string, Floats | undefined>): [number, number] {
  const off = batch.seqOffsets;
  if (off.length < 1 || off[0] !== 0) throw new BatchShapeError("seqOffsets must start with 0 and have S+1 entries");
  const S = off.length - 1;
  for (let s = 0; s < S; s++) {
    if (!(off[s + 1] >= off[s])) throw new BatchShapeError(`seqOffsets must be non-decreasing (at sequence ${s})`);
  }
  const N = off[S];
  if (batch.tokenMask.length !== N) throw new BatchShapeError(`tokenMask has ${batch.tokenMask.length} entries, expected N=${N}`);
  if (batch.sampleMask && batch.sampleMask.length !== S) {
    throw new BatchShapeError(`sampleMask has ${batch.sampleMask.length} entries, expected S=${S}`);
  }
  for (const [name, a] of Object.entries(perToken)) {
    if (a !== undefined && a.length !== N) throw new BatchShapeError(`${name} has ${a.length} entries, expected N=${N}`);
  }
  return [S, N];
}

/** (N,) mask_t = tokenMask_t · sampleMask_s. */
export function combinedMask(batch: PackedSequences): Float64Array {
  const off = batch.seqOffsets;
  const S = off.length - 1;
  const mask = new Float64Array(off[S]);
  for (let s = 0; s < S; s++) {
    const sm = batch.sampleMask ? batch.sampleMask[s] : 1;
    for (let t = off[s]; t < off[s + 1]; t++) mask[t] = batch.tokenMask[t] * sm;
  }
  return mask;
}

/** (S,) number of tokenMask'd tokens per sequence (NeMo's per-sequence masked_mean denominator). */
export function tokensPerSequence(batch: PackedSequences): Float64Array {
  const off = batch.seqOffsets;
  const S = off.length - 1;
  const n = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    let c = 0;
    for (let t = off[s]; t < off[s + 1]; t++) c += batch.tokenMask[t];
    n[s] = c;
  }
  return n;
}

export function sum(a: Floats): number {
  let x = 0;
  for (let i = 0; i < a.length; i++) x += a[i];
  return x;
}

/**
 * NeMo RL `masked_mean`: Σ v·m / (normalizer + 1e-8), normalizer defaulting to Σ m. Passing a global
 * normalizer makes microbatch results add up to the global mean. Only entries with m ≠ 0 are read,
 * so a NaN or -inf at a masked position does not leak in.
 */
export function maskedMean(values: Floats, mask: Floats, normalizer?: number): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    num += values[i] * mask[i];
    den += mask[i];
  }
  return num / ((normalizer ?? den) + MASKED_MEAN_EPSILON);
}
