/**
 * Per-token KL estimators (Schulman, http://joschu.net/blog/kl-approx.html) with NeMo RL's clamps
 * and importance weight, forward and derivative side by side. NeMo RL: `calculate_kl` in
 * nemo_rl/algorithms/utils.py. Sampled-token estimates of KL(π ‖ π_ref), with logr = ref - logprob:
 *   k1 = -logr            k2 = logr² / 2            k3 = exp(logr) - 1 - logr
 */
import type { KlType } from "./defaults.ts";

export interface KlPoint {
  /** the estimate, after the importance weight and the output clamp. */
  value: number;
  /** d value / d logprob, holding ref (and anything detached) fixed. */
  dLogprob: number;
}

/**
 * One token's KL term, as `calculate_kl(logprob, ref, type, inClamp, outClamp, weight)`.
 * weight multiplies the estimate before the output clamp; dWeight is d weight / d logprob (the
 * score-function term: weight itself when weight = exp(logprob - c), 0 for a constant weight).
 * As in NeMo RL, a token whose logr hits the input clamp has its weight detached too, and a token
 * cut by the output clamp passes no gradient at all.
 */
export function klTerm(
  logprob: number,
  ref: number,
  type: KlType,
  inputClamp: number | null,
  outputClamp: number | null,
  weight = 1,
  dWeight = 0,
): KlPoint {
  let logr = ref - logprob;
  let dLogr = -1;
  if (inputClamp !== null && (logr > inputClamp || logr < -inputClamp)) {
    logr = logr > inputClamp ? inputClamp : -inputClamp;
    dLogr = 0;
    dWeight = 0;
  }
  let k: number;
  let dk: number; // dk / dlogr
  switch (type) {
    case "k1":
      k = -logr;
      dk = -1;
      break;
    case "k2":
      k = (logr * logr) / 2;
      dk = logr;
      break;
    case "k3":
      k = Math.exp(logr) - 1 - logr;
      dk = Math.exp(logr) - 1;
      break;
    default:
      throw new RangeError(`unknown KL type ${String(type)}; expected k1, k2 or k3`);
  }
  const value = weight * k;
  const dLogprob = dWeight * k + weight * dk * dLogr;
  if (outputClamp !== null && (value > outputClamp || value < -outputClamp)) {
    return { value: value > outputClamp ? outputClamp : -outputClamp, dLogprob: 0 };
  }
  return { value, dLogprob };
}

/** Unclamped, unweighted estimate: the metrics' KL (gen_kl_error, policy_kl_error). */
export function klEstimate(logprob: number, ref: number, type: KlType): number {
  return klTerm(logprob, ref, type, null, null).value;
}
