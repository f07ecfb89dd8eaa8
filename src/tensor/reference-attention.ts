/**
 * The reference attention kernels (causal, grouped-query, packed sequences by cu_seqlens; and the
 * one-token step over a KV cache): the part of reference.ts's oracle that is one concept of its
 * own, in plain TypeScript loops generic over Float32Array and Float64Array, scalar arithmetic in
 * float64.
 */
import type { FloatArray } from "./kernels.ts";

/** Offset of sequence s's (Hq, L, L) probability block in `att`. */
function attOffsets(cuSeqlens: Int32Array, s: number, hq: number): { offsets: number[]; maxLen: number } {
  const offsets: number[] = [];
  let off = 0;
  let maxLen = 0;
  for (let i = 0; i < s; i++) {
    const len = cuSeqlens[i + 1] - cuSeqlens[i];
    offsets.push(off);
    off += hq * len * len;
    if (len > maxLen) maxLen = len;
  }
  return { offsets, maxLen };
}

export function attentionForward(
  out: FloatArray,
  att: FloatArray,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  cuSeqlens: Int32Array,
  s: number,
  hq: number,
  hkv: number,
  d: number,
): void {
  const scale = 1 / Math.sqrt(d);
  const group = hq / hkv;
  const { offsets } = attOffsets(cuSeqlens, s, hq);
  for (let sq = 0; sq < s; sq++) {
    const start = cuSeqlens[sq];
    const len = cuSeqlens[sq + 1] - start;
    for (let h = 0; h < hq; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < len; t++) {
        const qo = ((start + t) * hq + h) * d;
        const ao = offsets[sq] + (h * len + t) * len; // att row (t, 0..L)
        // scores and running max
        let mx = -Infinity;
        for (let t2 = 0; t2 <= t; t2++) {
          const ko = ((start + t2) * hkv + kvh) * d;
          let dot = 0;
          for (let j = 0; j < d; j++) dot += q[qo + j] * k[ko + j];
          dot *= scale;
          att[ao + t2] = dot;
          if (dot > mx) mx = dot;
        }
        let sum = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const e = Math.exp(att[ao + t2] - mx);
          att[ao + t2] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let t2 = 0; t2 <= t; t2++) att[ao + t2] *= inv;
        for (let t2 = t + 1; t2 < len; t2++) att[ao + t2] = 0;
        // out[t,h] = Σ att[t2] · v[t2,kvh]
        for (let j = 0; j < d; j++) out[qo + j] = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const p = att[ao + t2];
          const vo = ((start + t2) * hkv + kvh) * d;
          for (let j = 0; j < d; j++) out[qo + j] += p * v[vo + j];
        }
      }
    }
  }
}

export function attentionBackward(
  dq: FloatArray,
  dk: FloatArray,
  dv: FloatArray,
  dout: FloatArray,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  att: FloatArray,
  cuSeqlens: Int32Array,
  s: number,
  hq: number,
  hkv: number,
  d: number,
): void {
  const scale = 1 / Math.sqrt(d);
  const group = hq / hkv;
  const { offsets, maxLen } = attOffsets(cuSeqlens, s, hq);
  const datt = new Float64Array(maxLen);
  for (let sq = 0; sq < s; sq++) {
    const start = cuSeqlens[sq];
    const len = cuSeqlens[sq + 1] - start;
    for (let h = 0; h < hq; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < len; t++) {
        const qo = ((start + t) * hq + h) * d;
        const ao = offsets[sq] + (h * len + t) * len;
        // in the forward pass this was: out[t] += att[t2] · v[t2]
        // so: datt[t2] = dout[t]·v[t2] and dv[t2] += att[t2] · dout[t]
        let pd = 0; // Σ att[t2] · datt[t2]
        for (let t2 = 0; t2 <= t; t2++) {
          const vo = ((start + t2) * hkv + kvh) * d;
          const p = att[ao + t2];
          let dot = 0;
          for (let j = 0; j < d; j++) {
            dot += dout[qo + j] * v[vo + j];
            dv[vo + j] += p * dout[qo + j];
          }
          datt[t2] = dot;
          pd += p * dot;
        }
        // softmax backward: dscore[t2] = att[t2] · (datt[t2] − Σ att·datt); score = scale · q·k
        for (let t2 = 0; t2 <= t; t2++) {
          const ds = att[ao + t2] * (datt[t2] - pd) * scale;
          if (ds === 0) continue;
          const ko = ((start + t2) * hkv + kvh) * d;
          for (let j = 0; j < d; j++) {
            dq[qo + j] += ds * k[ko + j];
            dk[ko + j] += ds * q[qo + j];
          }
        }
      }
    }
  }
}

export function attentionCached(
  out: FloatArray,
  q: FloatArray,
  kCache: FloatArray,
  vCache: FloatArray,
  slot: Int32Array,
  pos: Int32Array,
  nq: number,
  hq: number,
  hkv: number,
  d: number,
  maxLen: number,
): void {
  const scale = 1 / Math.sqrt(d);
  const group = hq / hkv;
  const scores = new Float64Array(maxLen);
  for (let i = 0; i < nq; i++) {
    const base = slot[i] * maxLen * hkv * d;
    const last = pos[i];
    for (let h = 0; h < hq; h++) {
      const kvh = Math.floor(h / group);
      const qo = (i * hq + h) * d;
      let mx = -Infinity;
      for (let t2 = 0; t2 <= last; t2++) {
        const ko = base + (t2 * hkv + kvh) * d;
        let dot = 0;
        for (let j = 0; j < d; j++) dot += q[qo + j] * kCache[ko + j];
        dot *= scale;
        scores[t2] = dot;
        if (dot > mx) mx = dot;
      }
      let sum = 0;
      for (let t2 = 0; t2 <= last; t2++) {
        const e = Math.exp(scores[t2] - mx);
        scores[t2] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let j = 0; j < d; j++) out[qo + j] = 0;
      for (let t2 = 0; t2 <= last; t2++) {
        const p = scores[t2] * inv;
        const vo = base + (t2 * hkv + kvh) * d;
        for (let j = 0; j < d; j++) out[qo + j] += p * vCache[vo + j];
      }
    }
  }
}
