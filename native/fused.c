/*
 * Fused float32 kernels (see fused.h for the list and shapes; src/tensor/reference.ts is the oracle).
 *
 * Plain loops written so that gcc -O3 -march=native vectorises them: `#pragma omp simd` (with
 * -fopenmp-simd, no OpenMP runtime) marks loops whose only aliasing is "same index", so in-place
 * calls (out == inp) stay vectorised, and declares the float reductions. exp is a branch-free
 * Cephes-style polynomial (fexp) that vectorises, accurate to about 2 ulp. Attention uses OpenBLAS
 * sgemm per (sequence, head) for its two matmuls and C loops for the causal softmax between them.
 */
#include "fused.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

// ----------------------------------------------------------------------------
// exp

/* e^x in float32: Cephes expf's range reduction and polynomial, written without branches. NaN
   propagates; x < -87 gives 0 and x > 88 gives +inf (true values there are below 1.7e-38 or
   within a factor 2 of FLT_MAX). */
static inline float fexp(float x) {
  float xc = x < -87.0f ? -87.0f : x;
  xc = xc > 88.0f ? 88.0f : xc;
  // n = round(x / ln 2) by the 1.5·2^23 trick (floorf does not vectorise without -fno-trapping-math)
  float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);  // 2^n
  float y = p * scale;
  y = x < -87.0f ? 0.0f : y;
  y = x > 88.0f ? INFINITY : y;
  return y;
}

// ----------------------------------------------------------------------------
// elementwise and reductions

void add_f32(float* out, const float* a, const float* b, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

double sum_squares_f32(const float* x, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
  return s;
}

// ----------------------------------------------------------------------------
// embedding

void embedding_forward(float* out, const int32_t* ids, const float* wte, int n, int c) {
  for (int i = 0; i < n; i++) memcpy(out + (int64_t)i * c, wte + (int64_t)ids[i] * c, sizeof(float) * c);
}

void embedding_backward(float* dwte, const float* dout, const int32_t* ids, int n, int c) {
  for (int i = 0; i < n; i++) {
    float* d = dwte + (int64_t)ids[i] * c;
    const float* g = dout + (int64_t)i * c;
#pragma omp simd
    for (int j = 0; j < c; j++) d[j] += g[j];
  }
}

// ----------------------------------------------------------------------------
// RMSNorm

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w, int n, int c,
                     float eps) {
  for (int i = 0; i < n; i++) {
    const float* x = inp + (int64_t)i * c;
    float* o = out + (int64_t)i * c;
    double ss = 0.0;
#pragma omp simd reduction(+ : ss)
    for (int j = 0; j < c; j++) ss += (double)x[j] * (double)x[j];
    float r = (float)(1.0 / sqrt(ss / c + (double)eps));
    rstd[i] = r;
#pragma omp simd
    for (int j = 0; j < c; j++) o[j] = x[j] * r * w[j];
  }
}

void rmsnorm_backward(float* dinp, float* dw, const float* dout, const float* inp, const float* w,
                      const float* rstd, int n, int c) {
  // in the forward pass this was: out[j] = inp[j] * r * w[j], r = (mean(inp²) + eps)^-1/2
  // so: dinp[k] = r·w[k]·dout[k] − r³/C · inp[k] · Σ_j dout[j]·w[j]·inp[j]
  for (int i = 0; i < n; i++) {
    const float* x = inp + (int64_t)i * c;
    const float* g = dout + (int64_t)i * c;
    float* dx = dinp + (int64_t)i * c;
    float r = rstd[i];
    double dot = 0.0;
#pragma omp simd reduction(+ : dot)
    for (int j = 0; j < c; j++) dot += (double)(g[j] * w[j]) * (double)x[j];
    float coef = (float)((double)r * r * r * dot / c);
#pragma omp simd
    for (int j = 0; j < c; j++) {
      dw[j] += g[j] * x[j] * r;
      dx[j] += r * w[j] * g[j] - coef * x[j];
    }
  }
}

// ----------------------------------------------------------------------------
// RoPE (rotate_half)

void rope_forward(float* out, const float* inp, const int32_t* pos, const float* cos,
                  const float* sin, int n, int h, int d) {
  int half = d >> 1;
  for (int i = 0; i < n; i++) {
    const float* cs = cos + (int64_t)pos[i] * half;
    const float* sn = sin + (int64_t)pos[i] * half;
    for (int hh = 0; hh < h; hh++) {
      const float* x = inp + ((int64_t)i * h + hh) * d;
      float* o = out + ((int64_t)i * h + hh) * d;
#pragma omp simd
      for (int j = 0; j < half; j++) {
        float x1 = x[j], x2 = x[j + half];
        o[j] = x1 * cs[j] - x2 * sn[j];
        o[j + half] = x2 * cs[j] + x1 * sn[j];
      }
    }
  }
}

void rope_backward(float* dinp, const float* dout, const int32_t* pos, const float* cos,
                   const float* sin, int n, int h, int d) {
  // the transpose of the rotation: rotate by −angle
  int half = d >> 1;
  for (int i = 0; i < n; i++) {
    const float* cs = cos + (int64_t)pos[i] * half;
    const float* sn = sin + (int64_t)pos[i] * half;
    for (int hh = 0; hh < h; hh++) {
      const float* g = dout + ((int64_t)i * h + hh) * d;
      float* dx = dinp + ((int64_t)i * h + hh) * d;
#pragma omp simd
      for (int j = 0; j < half; j++) {
        float g1 = g[j], g2 = g[j + half];
        dx[j] = g1 * cs[j] + g2 * sn[j];
        dx[j + half] = g2 * cs[j] - g1 * sn[j];
      }
    }
  }
}

// ----------------------------------------------------------------------------
// attention

/* Softmax of row[0..len) in place (row already holds scaled scores). */
static void softmax_row(float* row, int len) {
  float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
  for (int j = 0; j < len; j++) mx = row[j] > mx ? row[j] : mx;
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int j = 0; j < len; j++) {
    float e = fexp(row[j] - mx);
    row[j] = e;
    sum += e;
  }
  float inv = 1.0f / sum;
#pragma omp simd
  for (int j = 0; j < len; j++) row[j] *= inv;
}

/* Rows per causal block: row block [r0, r0+B) only needs key columns [0, r0+B), so the matmuls
   skip most of the masked upper triangle (for L=256, 62.5% of the full L×L work). */
#ifndef ATT_BLOCK
#define ATT_BLOCK 64
#endif

void attention_forward(float* out, float* att, const float* q, const float* k, const float* v,
                       const int32_t* cu_seqlens, int s, int hq, int hkv, int d) {
  const float scale = (float)(1.0 / sqrt((double)d));
  const int group = hq / hkv;
  const int ldq = hq * d, ldk = hkv * d;
  int64_t off = 0;
  for (int sq = 0; sq < s; sq++) {
    const int64_t start = cu_seqlens[sq];
    const int len = cu_seqlens[sq + 1] - cu_seqlens[sq];
    if (len == 0) continue;
    for (int h = 0; h < hq; h++) {
      const int kvh = h / group;
      const float* qh = q + start * ldq + (int64_t)h * d;  // (L,D), row stride Hq·D
      const float* kh = k + start * ldk + (int64_t)kvh * d;  // (L,D), row stride Hkv·D
      const float* vh = v + start * ldk + (int64_t)kvh * d;
      float* oh = out + start * ldq + (int64_t)h * d;
      float* a = att + off + (int64_t)h * len * len;  // (L,L)
      for (int r0 = 0; r0 < len; r0 += ATT_BLOCK) {
        const int rb = len - r0 < ATT_BLOCK ? len - r0 : ATT_BLOCK;
        const int cols = r0 + rb;
        float* ab = a + (int64_t)r0 * len;  // rows r0..r0+rb of att, row stride L
        // scores[r0:r0+rb, 0:cols] = scale · Q[r0:r0+rb] · K[0:cols]ᵀ
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rb, cols, d, scale, qh + (int64_t)r0 * ldq,
                    ldq, kh, ldk, 0.0f, ab, len);
        for (int t = r0; t < cols; t++) {
          float* row = a + (int64_t)t * len;
          softmax_row(row, t + 1);
          memset(row + t + 1, 0, sizeof(float) * (len - t - 1));
        }
        // out[r0:r0+rb] = att[r0:r0+rb, 0:cols] · V[0:cols]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rb, d, cols, 1.0f, ab, len, vh, ldk,
                    0.0f, oh + (int64_t)r0 * ldq, ldq);
      }
    }
    off += (int64_t)hq * len * len;
  }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* att,
                        const int32_t* cu_seqlens, int s, int hq, int hkv, int d, float* scratch) {
  const float scale = (float)(1.0 / sqrt((double)d));
  const int group = hq / hkv;
  const int ldq = hq * d, ldk = hkv * d;
  int64_t off = 0;
  for (int sq = 0; sq < s; sq++) {
    const int64_t start = cu_seqlens[sq];
    const int len = cu_seqlens[sq + 1] - cu_seqlens[sq];
    if (len == 0) continue;
    for (int h = 0; h < hq; h++) {
      const int kvh = h / group;
      const int64_t qo = start * ldq + (int64_t)h * d, ko = start * ldk + (int64_t)kvh * d;
      const float* a = att + off + (int64_t)h * len * len;  // (L,L), zero above the diagonal
      for (int r0 = 0; r0 < len; r0 += ATT_BLOCK) {
        const int rb = len - r0 < ATT_BLOCK ? len - r0 : ATT_BLOCK;
        const int cols = r0 + rb;
        const float* ab = a + (int64_t)r0 * len;  // att rows r0..r0+rb, row stride L
        float* ds = scratch;                       // (rb, cols) with row stride L: datt, then dscores
        const float* gb = dout + qo + (int64_t)r0 * ldq;
        // in the forward pass this was: out = att · V
        // so: datt = dout · Vᵀ and dV += attᵀ · dout
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rb, cols, d, 1.0f, gb, ldq, v + ko, ldk,
                    0.0f, ds, len);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, d, rb, 1.0f, ab, len, gb, ldq,
                    1.0f, dv + ko, ldk);
        // softmax backward: dscore = att · (datt − Σ att·datt), times scale (score = scale · q·k)
        for (int t = r0; t < cols; t++) {
          const float* ar = a + (int64_t)t * len;
          float* dr = ds + (int64_t)(t - r0) * len;
          float pd = 0.0f;
#pragma omp simd reduction(+ : pd)
          for (int j = 0; j <= t; j++) pd += ar[j] * dr[j];
#pragma omp simd
          for (int j = 0; j <= t; j++) dr[j] = ar[j] * (dr[j] - pd) * scale;
          memset(dr + t + 1, 0, sizeof(float) * (cols - t - 1));
        }
        // dQ[r0:r0+rb] += dscores · K[0:cols] ; dK[0:cols] += dscoresᵀ · Q[r0:r0+rb]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rb, d, cols, 1.0f, ds, len, k + ko,
                    ldk, 1.0f, dq + qo + (int64_t)r0 * ldq, ldq);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, d, rb, 1.0f, ds, len,
                    q + qo + (int64_t)r0 * ldq, ldq, 1.0f, dk + ko, ldk);
      }
    }
    off += (int64_t)hq * len * len;
  }
}

void attention_cached(float* out, const float* q, const float* k_cache, const float* v_cache,
                      const int32_t* slot, const int32_t* pos, int nq, int hq, int hkv, int d,
                      int max_len, float* scratch) {
  const float scale = (float)(1.0 / sqrt((double)d));
  const int group = hq / hkv;
  const int ldk = hkv * d;
  for (int i = 0; i < nq; i++) {
    const int64_t base = (int64_t)slot[i] * max_len * ldk;
    const int len = pos[i] + 1;
    for (int kvh = 0; kvh < hkv; kvh++) {
      // the group's query heads are contiguous: Qg (group, D)
      const float* qg = q + ((int64_t)i * hq + (int64_t)kvh * group) * d;
      float* og = out + ((int64_t)i * hq + (int64_t)kvh * group) * d;
      const float* kh = k_cache + base + (int64_t)kvh * d;  // (len, D), row stride Hkv·D
      const float* vh = v_cache + base + (int64_t)kvh * d;
      float* p = scratch;  // (group, len)
      if (group == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, len, d, scale, kh, ldk, qg, 1, 0.0f, p, 1);
        softmax_row(p, len);
        cblas_sgemv(CblasRowMajor, CblasTrans, len, d, 1.0f, vh, ldk, p, 1, 0.0f, og, 1);
      } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, group, len, d, scale, qg, d, kh, ldk,
                    0.0f, p, len);
        for (int g = 0; g < group; g++) softmax_row(p + (int64_t)g * len, len);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, group, d, len, 1.0f, p, len, vh,
                    ldk, 0.0f, og, d);
      }
    }
  }
}

// ----------------------------------------------------------------------------
// SwiGLU

void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    float g = gate[i];
    out[i] = g / (1.0f + fexp(-g)) * up[i];
  }
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n) {
  // in the forward pass this was: out = g·σ(g)·up ; d/dg [g·σ(g)] = σ(g)·(1 + g·(1 − σ(g)))
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    float g = gate[i];
    float sg = 1.0f / (1.0f + fexp(-g));
    dgate[i] += dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
    dup[i] += dout[i] * g * sg;
  }
}

// ----------------------------------------------------------------------------
// log-probabilities and entropy

void logprob_forward(float* logp, float* entropy, float* lse, const float* logits,
                     const int32_t* targets, int n, int v) {
  for (int i = 0; i < n; i++) {
    const float* z = logits + (int64_t)i * v;
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < v; j++) mx = z[j] > mx ? z[j] : mx;
    // sum = Σ e^(z−mx), sumez = Σ e^(z−mx)·(z−mx) (≤ 0): H = log(sum) − sumez/sum, no cancellation
    float sum = 0.0f, sumez = 0.0f;
#pragma omp simd reduction(+ : sum, sumez)
    for (int j = 0; j < v; j++) {
      float zm = z[j] - mx;
      float e = fexp(zm);
      sum += e;
      sumez += e * zm;
    }
    double logsum = log((double)sum);
    lse[i] = (float)((double)mx + logsum);
    int t = targets[i];
    if (t < 0) {
      logp[i] = 0.0f;
      entropy[i] = 0.0f;
    } else {
      logp[i] = (float)((double)z[t] - ((double)mx + logsum));
      entropy[i] = (float)(logsum - (double)sumez / (double)sum);
    }
  }
}

void logprob_backward(float* dlogits, const float* dlogp, const float* dentropy,
                      const float* logits, const float* lse, const int32_t* targets, int n, int v) {
  for (int i = 0; i < n; i++) {
    const float* z = logits + (int64_t)i * v;
    float* dz = dlogits + (int64_t)i * v;  // may equal z
    int t = targets[i];
    if (t < 0) {
      memset(dz, 0, sizeof(float) * v);
      continue;
    }
    const float l = lse[i];
    const float gl = dlogp[i];
    const float ge = dentropy == NULL ? 0.0f : dentropy[i];
    if (ge == 0.0f) {
#pragma omp simd
      for (int j = 0; j < v; j++) dz[j] = -gl * fexp(z[j] - l);
    } else {
      // H = −Σ p log p ; ∂H/∂z_j = −p_j · (log p_j + H)
      float h = 0.0f;
#pragma omp simd reduction(+ : h)
      for (int j = 0; j < v; j++) {
        float lp = z[j] - l;
        h -= fexp(lp) * lp;
      }
#pragma omp simd
      for (int j = 0; j < v; j++) {
        float lp = z[j] - l;
        float p = fexp(lp);
        dz[j] = -gl * p - ge * p * (lp + h);
      }
    }
    dz[t] += gl;
  }
}

// ----------------------------------------------------------------------------
// AdamW (per element in double: the step is memory-bound, and this matches the reference)

void adamw_f32(float* param, const float* grad, float* m, float* v, int64_t n, double lr,
               double beta1, double beta2, double eps, double weight_decay, double bc1, double bc2,
               double grad_scale) {
  const double c1 = 1.0 - beta1, c2 = 1.0 - beta2;
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    double g = (double)grad[i] * grad_scale;
    double mi = beta1 * (double)m[i] + c1 * g;
    double vi = beta2 * (double)v[i] + c2 * g * g;
    m[i] = (float)mi;
    v[i] = (float)vi;
    double p = param[i];
    param[i] = (float)(p - lr * (mi / bc1 / (sqrt(vi / bc2) + eps) + weight_decay * p));
  }
}
