/**
 * The reference kernels: plain TypeScript loops, generic over Float32Array and Float64Array.
 * They define the semantics of `Kernels` (see kernels.ts) and are the oracle the native path is
 * tested against; float64 buffers make them exact enough for finite-difference gradient checks.
 * Not fast: the BLAS-backed fast path lives in native.ts. Loops are ordered for contiguous access
 * and all scalar arithmetic happens in float64 (JavaScript numbers).
 */
import type { FloatArray, Kernels } from "./kernels.ts";
import { attentionBackward, attentionCached, attentionForward } from "./reference-attention.ts";

// ------------------------------------------------------------------------------------------------
// matmul

function matmul(
  c: FloatArray,
  a: FloatArray,
  b: FloatArray,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  beta: 0 | 1,
): void {
  if (beta === 0) c.fill(0, 0, m * n);
  if (!transA && !transB) {
    // C[i,j] += A[i,p] B[p,j]: stream rows of B into row i of C
    for (let i = 0; i < m; i++) {
      const ci = i * n;
      for (let p = 0; p < k; p++) {
        const aip = a[i * k + p];
        if (aip === 0) continue;
        const bp = p * n;
        for (let j = 0; j < n; j++) c[ci + j] += aip * b[bp + j];
      }
    }
  } else if (!transA && transB) {
    // C[i,j] += dot(A[i,:], B[j,:])
    for (let i = 0; i < m; i++) {
      const ai = i * k;
      for (let j = 0; j < n; j++) {
        const bj = j * k;
        let s = 0;
        for (let p = 0; p < k; p++) s += a[ai + p] * b[bj + p];
        c[i * n + j] += s;
      }
    }
  } else if (transA && !transB) {
    // A is (K,M): C[i,j] += A[p,i] B[p,j]
    for (let p = 0; p < k; p++) {
      const ap = p * m;
      const bp = p * n;
      for (let i = 0; i < m; i++) {
        const api = a[ap + i];
        if (api === 0) continue;
        const ci = i * n;
        for (let j = 0; j < n; j++) c[ci + j] += api * b[bp + j];
      }
    }
  } else {
    // A is (K,M), B is (N,K): C[i,j] += A[p,i] B[j,p]
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[p * m + i] * b[j * k + p];
        c[i * n + j] += s;
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------
// elementwise and reductions

function add(out: FloatArray, a: FloatArray, b: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

function sumSquares(x: FloatArray, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}

// ------------------------------------------------------------------------------------------------
// embedding

function embeddingForward(out: FloatArray, ids: Int32Array, wte: FloatArray, n: number, c: number): void {
  for (let i = 0; i < n; i++) {
    const row = ids[i] * c;
    out.set(wte.subarray(row, row + c), i * c);
  }
}

function embeddingBackward(dwte: FloatArray, dout: FloatArray, ids: Int32Array, n: number, c: number): void {
  for (let i = 0; i < n; i++) {
    const row = ids[i] * c;
    const oi = i * c;
    for (let j = 0; j < c; j++) dwte[row + j] += dout[oi + j];
  }
}

// ------------------------------------------------------------------------------------------------
// RMSNorm

function rmsnormForward(
  out: FloatArray,
  rstd: FloatArray,
  inp: FloatArray,
  w: FloatArray,
  n: number,
  c: number,
  eps: number,
): void {
  for (let i = 0; i < n; i++) {
    const o = i * c;
    let ss = 0;
    for (let j = 0; j < c; j++) ss += inp[o + j] * inp[o + j];
    const r = 1 / Math.sqrt(ss / c + eps);
    rstd[i] = r;
    for (let j = 0; j < c; j++) out[o + j] = inp[o + j] * r * w[j];
  }
}

function rmsnormBackward(
  dinp: FloatArray,
  dw: FloatArray,
  dout: FloatArray,
  inp: FloatArray,
  w: FloatArray,
  rstd: FloatArray,
  n: number,
  c: number,
): void {
  // in the forward pass this was: out[j] = inp[j] * r * w[j], r = (mean(inp²) + eps)^-1/2
  // so: dinp[k] = r·w[k]·dout[k] − r³/C · inp[k] · Σ_j dout[j]·w[j]·inp[j]
  for (let i = 0; i < n; i++) {
    const o = i * c;
    const r = rstd[i];
    let dot = 0;
    for (let j = 0; j < c; j++) dot += dout[o + j] * w[j] * inp[o + j];
    const coef = (r * r * r * dot) / c;
    for (let j = 0; j < c; j++) {
      dw[j] += dout[o + j] * inp[o + j] * r;
      dinp[o + j] += r * w[j] * dout[o + j] - coef * inp[o + j];
    }
  }
}

// ------------------------------------------------------------------------------------------------
// RoPE (rotate_half layout)

function ropeForward(
  out: FloatArray,
  inp: FloatArray,
  pos: Int32Array,
  cos: FloatArray,
  sin: FloatArray,
  n: number,
  h: number,
  d: number,
): void {
  const half = d >> 1;
  for (let i = 0; i < n; i++) {
    const t = pos[i] * half;
    for (let hh = 0; hh < h; hh++) {
      const o = (i * h + hh) * d;
      for (let j = 0; j < half; j++) {
        const x1 = inp[o + j];
        const x2 = inp[o + j + half];
        const cs = cos[t + j];
        const sn = sin[t + j];
        out[o + j] = x1 * cs - x2 * sn;
        out[o + j + half] = x2 * cs + x1 * sn;
      }
    }
  }
}

function ropeBackward(
  dinp: FloatArray,
  dout: FloatArray,
  pos: Int32Array,
  cos: FloatArray,
  sin: FloatArray,
  n: number,
  h: number,
  d: number,
): void {
  // the transpose of the rotation: rotate by −angle
  const half = d >> 1;
  for (let i = 0; i < n; i++) {
    const t = pos[i] * half;
    for (let hh = 0; hh < h; hh++) {
      const o = (i * h + hh) * d;
      for (let j = 0; j < half; j++) {
        const g1 = dout[o + j];
        const g2 = dout[o + j + half];
        const cs = cos[t + j];
        const sn = sin[t + j];
        dinp[o + j] = g1 * cs + g2 * sn;
        dinp[o + j + half] = g2 * cs - g1 * sn;
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------
// SwiGLU

function swigluForward(out: FloatArray, gate: FloatArray, up: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

function swigluBackward(
  dgate: FloatArray,
  dup: FloatArray,
  dout: FloatArray,
  gate: FloatArray,
  up: FloatArray,
  n: number,
): void {
  // in the forward pass this was: out = g·σ(g)·up ; d/dg [g·σ(g)] = σ(g)·(1 + g·(1 − σ(g)))
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const sg = 1 / (1 + Math.exp(-g));
    dgate[i] += dout[i] * up[i] * sg * (1 + g * (1 - sg));
    dup[i] += dout[i] * g * sg;
  }
}

// ------------------------------------------------------------------------------------------------
// log-probabilities of targets and entropy

function logprobForward(
  logp: FloatArray,
  entropy: FloatArray,
  lse: FloatArray,
  logits: FloatArray,
  targets: Int32Array,
  n: number,
  v: number,
): void {
  for (let i = 0; i < n; i++) {
    const o = i * v;
    let mx = -Infinity;
    for (let j = 0; j < v; j++) if (logits[o + j] > mx) mx = logits[o + j];
    let sum = 0;
    let sumez = 0; // Σ exp(z − mx) · z
    for (let j = 0; j < v; j++) {
      const z = logits[o + j];
      const e = Math.exp(z - mx);
      sum += e;
      sumez += e * z;
    }
    const l = mx + Math.log(sum);
    lse[i] = l;
    const t = targets[i];
    if (t < 0) {
      logp[i] = 0;
      entropy[i] = 0;
    } else {
      logp[i] = logits[o + t] - l;
      entropy[i] = l - sumez / sum; // H = lse − Σ p·z
    }
  }
}

function logprobBackward(
  dlogits: FloatArray,
  dlogp: FloatArray,
  dentropy: FloatArray | null,
  logits: FloatArray,
  lse: FloatArray,
  targets: Int32Array,
  n: number,
  v: number,
): void {
  for (let i = 0; i < n; i++) {
    const o = i * v;
    const t = targets[i];
    if (t < 0) {
      dlogits.fill(0, o, o + v);
      continue;
    }
    const l = lse[i];
    const gl = dlogp[i];
    const ge = dentropy === null ? 0 : dentropy[i];
    // H = −Σ p log p ; ∂H/∂z_j = −p_j · (log p_j + H)
    let h = 0;
    if (ge !== 0) {
      for (let j = 0; j < v; j++) {
        const lp = logits[o + j] - l;
        h -= Math.exp(lp) * lp;
      }
    }
    for (let j = 0; j < v; j++) {
      const lp = logits[o + j] - l;
      const p = Math.exp(lp);
      let g = -gl * p;
      if (ge !== 0) g -= ge * p * (lp + h);
      dlogits[o + j] = g;
    }
    dlogits[o + t] += gl;
  }
}

// ------------------------------------------------------------------------------------------------
// AdamW

function adamw(
  param: FloatArray,
  grad: FloatArray,
  m: FloatArray,
  v: FloatArray,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  bc1: number,
  bc2: number,
  gradScale: number,
): void {
  for (let i = 0; i < n; i++) {
    const g = grad[i] * gradScale;
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] -= lr * (mi / bc1 / (Math.sqrt(vi / bc2) + eps) + weightDecay * param[i]);
  }
}

// ------------------------------------------------------------------------------------------------

export const referenceKernels: Kernels = {
  name: "reference",
  matmul,
  add,
  sumSquares,
  embeddingForward,
  embeddingBackward,
  rmsnormForward,
  rmsnormBackward,
  ropeForward,
  ropeBackward,
  attentionForward,
  attentionBackward,
  attentionCached,
  swigluForward,
  swigluBackward,
  logprobForward,
  logprobBackward,
  adamw,
};
