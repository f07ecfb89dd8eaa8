/**
 * Rotary position embeddings: the inverse frequencies and the (maxPos, D/2) cos/sin tables, as
 * Hugging Face computes them in float32 (`modeling_rope_utils.py`): default RoPE, and Llama 3.1's
 * "llama3" scaling (long wavelengths slowed by `factor`, short ones kept, a smooth blend between).
 */
import type { FloatArray } from "../tensor/kernels.ts";
import type { Dims } from "./config.ts";
import { allocFloat, type DType } from "./params.ts";

/** config.json `rope_scaling` with `rope_type: "llama3"` (Llama 3.1 / 3.2). */
export interface Llama3RopeScaling {
  rope_type: "llama3";
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}

const f32 = Math.fround;

/**
 * inv_freq[j] = 1 / theta^(2j/D), then the llama3 scaling when given; every operation rounded to
 * float32 as torch does on float32 tensors (Python scalars taking the tensor's dtype).
 */
export function ropeInvFreq(d: number, theta: number, scaling: Llama3RopeScaling | null): Float64Array {
  const half = d / 2;
  const out = new Float64Array(half);
  for (let j = 0; j < half; j++) {
    const inv = f32(1 / f32(Math.pow(theta, f32((2 * j) / d))));
    out[j] = scaling ? llama3Scaled(inv, scaling) : inv;
  }
  return out;
}

/** transformers' `_compute_llama3_parameters` for one frequency. */
function llama3Scaled(inv: number, s: Llama3RopeScaling): number {
  const lowFreqWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highFreqWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  const wavelen = f32(f32(2 * Math.PI) / inv);
  if (wavelen < highFreqWavelen) return inv; // high frequency: kept
  if (wavelen > lowFreqWavelen) return f32(inv / f32(s.factor)); // low frequency: slowed by factor
  // medium: (1 - smooth) · inv / factor + smooth · inv, smooth = (L / wavelen - low) / (high - low)
  const smooth = f32(f32(f32(f32(s.original_max_position_embeddings) / wavelen) - f32(s.low_freq_factor)) / f32(s.high_freq_factor - s.low_freq_factor));
  return f32(f32(f32(f32(1 - smooth) * inv) / f32(s.factor)) + f32(smooth * inv));
}

/** cos/sin tables (maxPos, D/2): angle = f32(pos · inv_freq) before cos and sin. */
export function ropeTables(dm: Dims, dtype: DType): [FloatArray, FloatArray] {
  const half = dm.d / 2;
  const cos = allocFloat(dtype, dm.maxPos * half);
  const sin = allocFloat(dtype, dm.maxPos * half);
  const invFreq = ropeInvFreq(dm.d, dm.ropeTheta, dm.ropeScaling);
  for (let j = 0; j < half; j++) {
    for (let p = 0; p < dm.maxPos; p++) {
      const ang = f32(p * invFreq[j]);
      cos[p * half + j] = Math.cos(ang);
      sin[p * half + j] = Math.sin(ang);
    }
  }
  return [cos, sin];
}
