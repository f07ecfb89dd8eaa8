/**
 * The model's activation buffers: their layout and allocation. Training keeps per-layer
 * activations for backward plus scratch shared by the layers; the cached (inference) pass has its
 * own smaller set. Buffers grow to the largest batch seen (never shrink), so steady-state steps
 * allocate nothing.
 */
import type { FloatArray } from "../tensor/kernels.ts";
import type { Dims } from "./config.ts";
import { type DType, allocFloat } from "./params.ts";

// activations kept for backward (per layer) and scratch (shared by layers)
// What an elementwise op recomputes from kept inputs is not kept: backward recomputes the two
// RMSNorm outputs, QK-norm + RoPE and SwiGLU (same kernels, same inputs: the same values), which
// saves a third of the per-layer activations (8,192 of 22,554 floats per token at Qwen3-0.6B).

export interface LayerActs {
  resid: FloatArray; // (N,C) the layer's input
  ln1Rstd: FloatArray; // (N)
  qRaw: FloatArray; // (N,Hq,D) q_proj output
  kRaw: FloatArray; // (N,Hkv,D)
  qRstd: FloatArray; // (N·Hq)
  kRstd: FloatArray; // (N·Hkv)
  v: FloatArray; // (N,Hkv,D)
  att: FloatArray; // Σ Hq·L² softmax probabilities
  y: FloatArray; // (N,Hq·D) attention output
  resid2: FloatArray; // (N,C) after the attention residual
  ln2Rstd: FloatArray; // (N)
  gate: FloatArray; // (N,F)
  up: FloatArray; // (N,F)
}

export interface Acts {
  n: number; // token capacity
  attSize: number; // attention capacity (Σ Hq·L²)
  layers: LayerActs[];
  residF: FloatArray; // (N,C) output of the last layer
  lnf: FloatArray; // (N,C)
  lnfRstd: FloatArray; // (N)
  logp: FloatArray; // (N)
  entropy: FloatArray; // (N)
  rows: Int32Array; // (N) input rows
  targetRows: Int32Array; // (N) output rows, -1 for none
  pos: Int32Array; // (N) position within its sequence
  // recomputed per layer, in forward and again in backward
  ln: FloatArray; // (N,C) input_layernorm or post_attention_layernorm output
  q: FloatArray; // (N,Hq,D) after q_norm and RoPE
  k: FloatArray; // (N,Hkv,D) after k_norm and RoPE
  h: FloatArray; // (N,F) swiglu(gate, up)
  // gradient scratch
  dresid: FloatArray; // (N,C)
  dln: FloatArray; // (N,C)
  dy: FloatArray; // (N,Hq·D)
  dq: FloatArray; // (N,Hq·D)
  dqRaw: FloatArray; // (N,Hq·D)
  dk: FloatArray; // (N,Hkv·D)
  dkRaw: FloatArray; // (N,Hkv·D)
  dv: FloatArray; // (N,Hkv·D)
  dgate: FloatArray; // (N,F)
  dup: FloatArray; // (N,F)
  dh: FloatArray; // (N,F)
}

/** Buffers of a cached (inference) pass over R rows, B of which produce logits. */
export interface InferActs {
  r: number;
  b: number;
  x: FloatArray; // (R,C)
  ln: FloatArray; // (R,C)
  rstd: FloatArray; // (R·Hq)
  qRaw: FloatArray; // (R,Hq·D)
  kRaw: FloatArray; // (R,Hkv·D)
  qn: FloatArray; // (R,Hq·D)
  kn: FloatArray; // (R,Hkv·D)
  q: FloatArray; // (R,Hq·D)
  k: FloatArray; // (R,Hkv·D)
  v: FloatArray; // (R,Hkv·D)
  y: FloatArray; // (R,Hq·D)
  tmp: FloatArray; // (R,C)
  gate: FloatArray; // (R,F)
  up: FloatArray; // (R,F)
  h: FloatArray; // (R,F)
  rows: Int32Array; // (R)
  slot: Int32Array; // (R)
  pos: Int32Array; // (R)
  xl: FloatArray; // (B,C) last rows
  lnl: FloatArray; // (B,C)
  rstdl: FloatArray; // (B)
  logits: FloatArray; // (B,Vout)
}

/**
 * Training buffers for at least n tokens and attSize attention probabilities: `old` when it is big
 * enough, else new ones at the larger of the two sizes. The caller drops `old` first so both sets
 * never live at once.
 */
export function allocActs(dims: Dims, dtype: DType, old: { n: number; attSize: number } | null, n: number, attSize: number): Acts {
  const cap = Math.max(n, old?.n ?? 0);
  const attCap = Math.max(attSize, old?.attSize ?? 0);
  const { c, f, hq, hkv, d, qkNorm } = dims;
  const A = (size: number) => allocFloat(dtype, size);
  const empty = A(0);
  const layers: LayerActs[] = [];
  for (let l = 0; l < dims.l; l++) {
    layers.push({
      resid: A(cap * c),
      ln1Rstd: A(cap),
      qRaw: A(cap * hq * d),
      kRaw: A(cap * hkv * d),
      qRstd: qkNorm ? A(cap * hq) : empty,
      kRstd: qkNorm ? A(cap * hkv) : empty,
      v: A(cap * hkv * d),
      att: A(attCap),
      y: A(cap * hq * d),
      resid2: A(cap * c),
      ln2Rstd: A(cap),
      gate: A(cap * f),
      up: A(cap * f),
    });
  }
  return {
    n: cap,
    attSize: attCap,
    layers,
    residF: A(cap * c),
    lnf: A(cap * c),
    lnfRstd: A(cap),
    logp: A(cap),
    entropy: A(cap),
    rows: new Int32Array(cap),
    targetRows: new Int32Array(cap),
    pos: new Int32Array(cap),
    ln: A(cap * c),
    q: A(cap * hq * d),
    k: A(cap * hkv * d),
    h: A(cap * f),
    dresid: A(cap * c),
    dln: A(cap * c),
    dy: A(cap * hq * d),
    dq: A(cap * hq * d),
    dqRaw: qkNorm ? A(cap * hq * d) : empty,
    dk: A(cap * hkv * d),
    dkRaw: qkNorm ? A(cap * hkv * d) : empty,
    dv: A(cap * hkv * d),
    dgate: A(cap * f),
    dup: A(cap * f),
    dh: A(cap * f),
  };
}

/** Cached-pass buffers for at least r rows and b logit rows, at the larger of these and `old`'s sizes. */
export function allocInferActs(dims: Dims, dtype: DType, old: { r: number; b: number } | null, r: number, b: number): InferActs {
  const R = Math.max(r, old?.r ?? 0);
  const B = Math.max(b, old?.b ?? 0);
  const { c, f, hq, hkv, d, vOut } = dims;
  const A = (size: number) => allocFloat(dtype, size);
  return {
    r: R,
    b: B,
    x: A(R * c),
    ln: A(R * c),
    rstd: A(R * hq),
    qRaw: A(R * hq * d),
    kRaw: A(R * hkv * d),
    qn: A(R * hq * d),
    kn: A(R * hkv * d),
    q: A(R * hq * d),
    k: A(R * hkv * d),
    v: A(R * hkv * d),
    y: A(R * hq * d),
    tmp: A(R * c),
    gate: A(R * f),
    up: A(R * f),
    h: A(R * f),
    rows: new Int32Array(R),
    slot: new Int32Array(R),
    pos: new Int32Array(R),
    xl: A(B * c),
    lnl: A(B * c),
    rstdl: A(B),
    logits: A(B * vOut),
  };
}
