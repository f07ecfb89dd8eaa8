/**
 * FLOP counts of the model, for throughput figures (benchmarks, training logs). A multiply-add is
 * 2 FLOPs; elementwise work (norms, softmax, RoPE) is not counted. Training is 3 × forward
 * (backward = two matmuls per forward matmul). Attention counts only the causal half it computes.
 */
import type { Dims } from "./config.ts";

/** Forward FLOPs of the dense layers and head, per token. */
export function denseForwardFlopsPerToken(dm: Dims): number {
  const { c, f, hq, hkv, d, vOut, l } = dm;
  const perLayer = c * hq * d + 2 * c * hkv * d + hq * d * c + 3 * c * f;
  return 2 * (l * perLayer + c * vOut);
}

/** Forward FLOPs of attention (QKᵀ and AV, causal) for one sequence of length t. */
export function attentionForwardFlops(dm: Dims, t: number): number {
  // per layer and head: Σ_{i<t} (i+1)·D multiply-adds for each of QKᵀ and AV
  return 2 * 2 * dm.l * dm.hq * dm.d * ((t * (t + 1)) / 2);
}

/** Training (forward + backward) FLOPs of a batch of sequences with the given lengths. */
export function trainFlops(dm: Dims, seqLens: number[]): number {
  let fwd = 0;
  for (const t of seqLens) fwd += t * denseForwardFlopsPerToken(dm) + attentionForwardFlops(dm, t);
  return 3 * fwd;
}
