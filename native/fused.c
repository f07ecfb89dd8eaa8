/*
 * Fused float32 kernels (see fused.h for the list and shapes; src/tensor/reference.ts is the oracle).
 *
 * Plain loops written so that gcc -O3 -march=native vectorises them: `#pragma omp simd` (with
 * -fopenmp-simd, no OpenMP runtime) marks loops whose only aliasing is "same index", so in-place
 * calls (out == inp) stay vectorised, and declares the float reductions. exp is a branch-free
 * Cephes-style polynomial (fexp) that vectorises, accurate to about 2 ulp. Attention uses OpenBLAS
 * sgemm per (sequence, head) for its two matmuls and C loops for the causal softmax between them.
 *
 * Threads: attention, and large rmsnorm-forward, swiglu, logprob and adamw calls, split their work
 * over as many threads as OpenBLAS is set to use (setThreads), spawned per call; during attention OpenBLAS itself runs single-threaded,
 * because its threading of these small per-head matmuls costs more than it gains (measured 1.7×
 * slower than one thread on 2 cores, while one (sequence, kv head) pair per thread is ~1.6× faster).
 */
#include "fused.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS extensions (declared again so that a non-OpenBLAS cblas.h still compiles). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

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
// threads

#define MAX_WORKERS 16

typedef struct {
  unit_fn fn;
  const void* ctx;
  int units;
  atomic_int next;
} Job;

typedef struct {
  Job* job;
  float* scratch;
} Worker;

static void* run_units(void* p) {
  Worker* w = p;
  for (int u; (u = atomic_fetch_add(&w->job->next, 1)) < w->job->units;)
    w->job->fn(w->job->ctx, u, w->scratch);
  return NULL;
}

int parallel_units(unit_fn fn, const void* ctx, int units, size_t scratch_len, bool blas) {
  if (units <= 0) return 0;
  const int blas_threads = openblas_get_num_threads();
  int nt = blas_threads < units ? blas_threads : units;
  if (nt > MAX_WORKERS) nt = MAX_WORKERS;
  if (nt < 1) nt = 1;
  float* scratch = NULL;
  if (scratch_len > 0) {
    scratch = malloc(sizeof(float) * scratch_len * (size_t)nt);
    if (!scratch) return -1;
  }
  Job job = {.fn = fn, .ctx = ctx, .units = units};
  atomic_init(&job.next, 0);
  Worker w[MAX_WORKERS];
  pthread_t th[MAX_WORKERS];
  bool started[MAX_WORKERS] = {false};
  // each thread runs its own single-threaded sgemm calls; restore the caller's setting after
  if (blas && nt > 1) openblas_set_num_threads(1);
  for (int t = 0; t < nt; t++) w[t] = (Worker){.job = &job, .scratch = scratch ? scratch + scratch_len * t : NULL};
  for (int t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, run_units, &w[t]) == 0;
  run_units(&w[0]);  // the caller works too; units a failed thread would have taken are left to it
  for (int t = 1; t < nt; t++)
    if (started[t]) pthread_join(th[t], NULL);
  if (blas && nt > 1) openblas_set_num_threads(blas_threads);
  free(scratch);
  return 0;
}

/* A loop over [0, n) cut into chunks, one parallel unit each. */
typedef void (*range_fn)(const void* args, int64_t lo, int64_t hi);
typedef struct {
  range_fn fn;
  const void* args;
  int64_t n, chunk;
} Chunks;

static void chunk_unit(const void* ctx, int unit, float* scratch) {
  const Chunks* c = ctx;
  (void)scratch;
  int64_t lo = unit * c->chunk, hi = lo + c->chunk < c->n ? lo + c->chunk : c->n;
  c->fn(c->args, lo, hi);
}

/* Below this many element-operations a loop stays on the calling thread (a thread costs ~20 µs). */
#define PARALLEL_MIN_WORK (1 << 17)

/* Runs fn over [0, n), where each index costs about `cost` element-operations: on the calling
   thread for small loops, else in chunks on up to openblas_get_num_threads() threads. */
static void parallel_range(range_fn fn, const void* args, int64_t n, int64_t cost) {
  int64_t work = n * cost;
  if (work < 2 * PARALLEL_MIN_WORK || openblas_get_num_threads() < 2) {
    fn(args, 0, n);
    return;
  }
  int64_t units = work / PARALLEL_MIN_WORK;
  if (units > 64) units = 64;
  if (units > n) units = n;
  int64_t chunk = (n + units - 1) / units;
  Chunks c = {.fn = fn, .args = args, .n = n, .chunk = chunk};
  parallel_units(chunk_unit, &c, (int)((n + chunk - 1) / chunk), 0, false);
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

typedef struct {
  float *out, *rstd;
  const float *inp, *w;
  int c;
  float eps;
} Rmsnorm;

static void rmsnorm_forward_range(const void* args, int64_t lo, int64_t hi) {
  const Rmsnorm* x = args;
  const int c = x->c;
  const float* w = x->w;
  for (int64_t i = lo; i < hi; i++) {
    const float* in = x->inp + i * c;
    float* o = x->out + i * c;
    double ss = 0.0;
#pragma omp simd reduction(+ : ss)
    for (int j = 0; j < c; j++) ss += (double)in[j] * (double)in[j];
    float r = (float)(1.0 / sqrt(ss / c + (double)x->eps));
    x->rstd[i] = r;
#pragma omp simd
    for (int j = 0; j < c; j++) o[j] = in[j] * r * w[j];
  }
}

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w, int n, int c,
                     float eps) {
  Rmsnorm x = {.out = out, .rstd = rstd, .inp = inp, .w = w, .c = c, .eps = eps};
  parallel_range(rmsnorm_forward_range, &x, n, c);
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

/* One attention call's arguments; a work unit is one (sequence, kv head) pair, which owns the
   rows of its sequence in out/dq (for its query heads) and in dk/dv (for its kv head). */
typedef struct {
  float *out, *att, *dq, *dk, *dv;
  const float *q, *k, *v, *dout, *att_in;
  const int32_t* cu_seqlens;
  const int64_t* att_off;  // (S) offset of each sequence's (Hq,L,L) block
  int s, hq, hkv, d;
} Attn;

static void attention_forward_unit(const void* ctx, int unit, float* scratch) {
  const Attn* x = ctx;
  (void)scratch;
  const int sq = unit / x->hkv, kvh = unit % x->hkv;
  const int d = x->d, group = x->hq / x->hkv;
  const int ldq = x->hq * d, ldk = x->hkv * d;
  const float scale = (float)(1.0 / sqrt((double)d));
  const int64_t start = x->cu_seqlens[sq];
  const int len = x->cu_seqlens[sq + 1] - x->cu_seqlens[sq];
  const float* kh = x->k + start * ldk + (int64_t)kvh * d;  // (L,D), row stride Hkv·D
  const float* vh = x->v + start * ldk + (int64_t)kvh * d;
  for (int h = kvh * group; h < (kvh + 1) * group; h++) {
    const float* qh = x->q + start * ldq + (int64_t)h * d;  // (L,D), row stride Hq·D
    float* oh = x->out + start * ldq + (int64_t)h * d;
    float* a = x->att + x->att_off[sq] + (int64_t)h * len * len;  // (L,L)
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
        // zero only to the block's end: the matmul below and the backward read no further, and
        // writing the whole row doubled the forward's time at L ~ 1,000 (memory traffic)
        memset(row + t + 1, 0, sizeof(float) * (cols - t - 1));
      }
      // out[r0:r0+rb] = att[r0:r0+rb, 0:cols] · V[0:cols]
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rb, d, cols, 1.0f, ab, len, vh, ldk,
                  0.0f, oh + (int64_t)r0 * ldq, ldq);
    }
  }
}

static void attention_backward_unit(const void* ctx, int unit, float* scratch) {
  const Attn* x = ctx;
  const int sq = unit / x->hkv, kvh = unit % x->hkv;
  const int d = x->d, group = x->hq / x->hkv;
  const int ldq = x->hq * d, ldk = x->hkv * d;
  const float scale = (float)(1.0 / sqrt((double)d));
  const int64_t start = x->cu_seqlens[sq];
  const int len = x->cu_seqlens[sq + 1] - x->cu_seqlens[sq];
  const int64_t ko = start * ldk + (int64_t)kvh * d;
  for (int h = kvh * group; h < (kvh + 1) * group; h++) {
    const int64_t qo = start * ldq + (int64_t)h * d;
    const float* a = x->att_in + x->att_off[sq] + (int64_t)h * len * len;  // (L,L), 0 above diagonal
    for (int r0 = 0; r0 < len; r0 += ATT_BLOCK) {
      const int rb = len - r0 < ATT_BLOCK ? len - r0 : ATT_BLOCK;
      const int cols = r0 + rb;
      const float* ab = a + (int64_t)r0 * len;  // att rows r0..r0+rb, row stride L
      float* ds = scratch;                       // (rb, cols) with row stride L: datt, then dscores
      const float* gb = x->dout + qo + (int64_t)r0 * ldq;
      // in the forward pass this was: out = att · V
      // so: datt = dout · Vᵀ and dV += attᵀ · dout
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rb, cols, d, 1.0f, gb, ldq, x->v + ko, ldk,
                  0.0f, ds, len);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, d, rb, 1.0f, ab, len, gb, ldq, 1.0f,
                  x->dv + ko, ldk);
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
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rb, d, cols, 1.0f, ds, len, x->k + ko,
                  ldk, 1.0f, x->dq + qo + (int64_t)r0 * ldq, ldq);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cols, d, rb, 1.0f, ds, len,
                  x->q + qo + (int64_t)r0 * ldq, ldq, 1.0f, x->dk + ko, ldk);
    }
  }
}

/* Fills x->att_off (caller frees) and returns the longest sequence, or -1 when out of memory. */
static int attn_offsets(Attn* x) {
  int64_t* off = malloc(sizeof(int64_t) * (size_t)(x->s > 0 ? x->s : 1));
  if (!off) return -1;
  int64_t o = 0;
  int max_len = 0;
  for (int i = 0; i < x->s; i++) {
    int len = x->cu_seqlens[i + 1] - x->cu_seqlens[i];
    off[i] = o;
    o += (int64_t)x->hq * len * len;
    if (len > max_len) max_len = len;
  }
  x->att_off = off;
  return max_len;
}

int attention_forward(float* out, float* att, const float* q, const float* k, const float* v,
                      const int32_t* cu_seqlens, int s, int hq, int hkv, int d) {
  Attn x = {.out = out, .att = att, .q = q, .k = k, .v = v, .cu_seqlens = cu_seqlens, .s = s,
            .hq = hq, .hkv = hkv, .d = d};
  if (attn_offsets(&x) < 0) return -1;
  int rc = parallel_units(attention_forward_unit, &x, s * hkv, 0, true);
  free((void*)x.att_off);
  return rc;
}

int attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                       const float* k, const float* v, const float* att, const int32_t* cu_seqlens,
                       int s, int hq, int hkv, int d) {
  Attn x = {.dq = dq, .dk = dk, .dv = dv, .dout = dout, .q = q, .k = k, .v = v, .att_in = att,
            .cu_seqlens = cu_seqlens, .s = s, .hq = hq, .hkv = hkv, .d = d};
  int max_len = attn_offsets(&x);
  if (max_len < 0) return -1;
  int rc = parallel_units(attention_backward_unit, &x, s * hkv, (size_t)ATT_BLOCK * max_len, true);
  free((void*)x.att_off);
  return rc;
}

/* attention_cached's arguments; its rows are cut into blocks (see there), a work unit is one
   (block, kv head) pair. */
typedef struct {
  float* out;
  const float *q, *k_cache, *v_cache;
  const int32_t *slot, *pos;
  const int* block;  // (nblocks + 1) row offsets
  int hq, hkv, d, max_len;
} Cached;

static void attention_cached_unit(const void* ctx, int unit, float* scratch) {
  const Cached* x = ctx;
  const int b = unit / x->hkv, kvh = unit % x->hkv;
  const int d = x->d, group = x->hq / x->hkv, ldq = x->hq * d, ldk = x->hkv * d;
  const float scale = (float)(1.0 / sqrt((double)d));
  const int r0 = x->block[b], rb = x->block[b + 1] - r0;
  const int len = x->pos[r0 + rb - 1] + 1;  // the block's last row sees the most positions
  const int64_t base = (int64_t)x->slot[r0] * x->max_len * ldk + (int64_t)kvh * d;
  const float* kh = x->k_cache + base;  // (len, D), row stride Hkv·D
  const float* vh = x->v_cache + base;
  if (rb == 1) {
    // a decode row: the group's query heads are contiguous, (group, D), so they share one pass
    // over the cache (a block of several rows is not one strided matrix across heads)
    const float* qg = x->q + (int64_t)r0 * ldq + (int64_t)kvh * group * d;
    float* og = x->out + (int64_t)r0 * ldq + (int64_t)kvh * group * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, group, len, d, scale, qg, d, kh, ldk, 0.0f,
                scratch, len);
    for (int g = 0; g < group; g++) softmax_row(scratch + (int64_t)g * len, len);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, group, d, len, 1.0f, scratch, len, vh,
                ldk, 0.0f, og, d);
    return;
  }
  for (int h = kvh * group; h < (kvh + 1) * group; h++) {
    const float* qh = x->q + (int64_t)r0 * ldq + (int64_t)h * d;  // (rb, D), row stride Hq·D
    float* oh = x->out + (int64_t)r0 * ldq + (int64_t)h * d;
    float* p = scratch;  // (rb, len)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rb, len, d, scale, qh, ldq, kh, ldk, 0.0f,
                p, len);
    for (int i = 0; i < rb; i++) {
      const int seen = x->pos[r0 + i] + 1;  // row i attends to positions 0..pos (causal)
      softmax_row(p + (int64_t)i * len, seen);
      memset(p + (int64_t)i * len + seen, 0, sizeof(float) * (len - seen));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rb, d, len, 1.0f, p, len, vh, ldk, 0.0f,
                oh, ldq);
  }
}

/* Rows of one slot at consecutive positions (a prompt's prefill chunk) form one block, up to
   ATT_BLOCK rows: its scores are one matmul against the slot's cache, read once for the block,
   instead of one matrix-vector product per row, which re-read the cache for every row and made
   prefill memory-bound (measured: most of a workplace GRPO step's generation time). */
int attention_cached(float* out, const float* q, const float* k_cache, const float* v_cache,
                     const int32_t* slot, const int32_t* pos, int nq, int hq, int hkv, int d,
                     int max_len) {
  int* block = malloc(sizeof(int) * (size_t)(nq + 1));
  if (!block) return -1;
  int nb = 0, widest = 1, longest = 1;
  for (int i = 0; i < nq; i++) {
    const int start = nb > 0 ? block[nb - 1] : 0;
    const bool extends = i > 0 && slot[i] == slot[i - 1] && pos[i] == pos[i - 1] + 1 && i - start < ATT_BLOCK;
    if (!extends) block[nb++] = i;
    if (i - block[nb - 1] + 1 > widest) widest = i - block[nb - 1] + 1;
    if (pos[i] + 1 > longest) longest = pos[i] + 1;
  }
  block[nb] = nq;
  Cached x = {.out = out, .q = q, .k_cache = k_cache, .v_cache = v_cache, .slot = slot, .pos = pos,
              .block = block, .hq = hq, .hkv = hkv, .d = d, .max_len = max_len};
  const int rows = widest > hq / hkv ? widest : hq / hkv;  // a decode row scores its group's heads at once
  int rc = parallel_units(attention_cached_unit, &x, nb * hkv, (size_t)rows * longest, true);
  free(block);
  return rc;
}

// ----------------------------------------------------------------------------
// SwiGLU

typedef struct {
  float *out, *dgate, *dup;
  const float *gate, *up, *dout;
} Swiglu;

static void swiglu_forward_range(const void* args, int64_t lo, int64_t hi) {
  const Swiglu* x = args;
  float* out = x->out;
  const float *gate = x->gate, *up = x->up;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) {
    float g = gate[i];
    out[i] = g / (1.0f + fexp(-g)) * up[i];
  }
}

static void swiglu_backward_range(const void* args, int64_t lo, int64_t hi) {
  const Swiglu* x = args;
  float *dgate = x->dgate, *dup = x->dup;
  const float *dout = x->dout, *gate = x->gate, *up = x->up;
  // in the forward pass this was: out = g·σ(g)·up ; d/dg [g·σ(g)] = σ(g)·(1 + g·(1 − σ(g)))
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) {
    float g = gate[i];
    float sg = 1.0f / (1.0f + fexp(-g));
    dgate[i] += dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
    dup[i] += dout[i] * g * sg;
  }
}

void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
  Swiglu x = {.out = out, .gate = gate, .up = up};
  parallel_range(swiglu_forward_range, &x, n, 1);
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n) {
  Swiglu x = {.dgate = dgate, .dup = dup, .dout = dout, .gate = gate, .up = up};
  parallel_range(swiglu_backward_range, &x, n, 1);
}

// ----------------------------------------------------------------------------
// log-probabilities and entropy

typedef struct {
  float *logp, *entropy, *lse, *dlogits;
  const float *logits, *dlogp, *dentropy, *lse_in;
  const int32_t* targets;
  int v;
} Logprob;

static void logprob_forward_range(const void* args, int64_t lo, int64_t hi) {
  const Logprob* x = args;
  float *logp = x->logp, *entropy = x->entropy, *lse = x->lse;
  const float* logits = x->logits;
  const int32_t* targets = x->targets;
  const int v = x->v;
  for (int64_t i = lo; i < hi; i++) {
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

void logprob_forward(float* logp, float* entropy, float* lse, const float* logits,
                     const int32_t* targets, int n, int v) {
  Logprob x = {.logp = logp, .entropy = entropy, .lse = lse, .logits = logits, .targets = targets,
               .v = v};
  parallel_range(logprob_forward_range, &x, n, v);
}

static void logprob_backward_range(const void* args, int64_t lo, int64_t hi) {
  const Logprob* x = args;
  float* dlogits = x->dlogits;
  const float *logits = x->logits, *dlogp = x->dlogp, *dentropy = x->dentropy, *lse = x->lse_in;
  const int32_t* targets = x->targets;
  const int v = x->v;
  for (int64_t i = lo; i < hi; i++) {
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

void logprob_backward(float* dlogits, const float* dlogp, const float* dentropy,
                      const float* logits, const float* lse, const int32_t* targets, int n, int v) {
  Logprob x = {.dlogits = dlogits, .dlogp = dlogp, .dentropy = dentropy, .logits = logits,
               .lse_in = lse, .targets = targets, .v = v};
  parallel_range(logprob_backward_range, &x, n, 2 * (int64_t)v);
}

// ----------------------------------------------------------------------------
// AdamW (per element in double: the step is memory-bound, and this matches the reference)

typedef struct {
  float *param, *m, *v;
  const float* grad;
  double lr, beta1, beta2, eps, weight_decay, bc1, bc2, grad_scale;
} Adamw;

static void adamw_range(const void* args, int64_t lo, int64_t hi) {
  const Adamw* x = args;
  float *param = x->param, *m = x->m, *v = x->v;
  const float* grad = x->grad;
  const double lr = x->lr, beta1 = x->beta1, beta2 = x->beta2, eps = x->eps, wd = x->weight_decay;
  const double bc1 = x->bc1, bc2 = x->bc2, gs = x->grad_scale;
  const double c1 = 1.0 - beta1, c2 = 1.0 - beta2;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) {
    double g = (double)grad[i] * gs;
    double mi = beta1 * (double)m[i] + c1 * g;
    double vi = beta2 * (double)v[i] + c2 * g * g;
    m[i] = (float)mi;
    v[i] = (float)vi;
    double p = param[i];
    param[i] = (float)(p - lr * (mi / bc1 / (sqrt(vi / bc2) + eps) + wd * p));
  }
}

void adamw_f32(float* param, const float* grad, float* m, float* v, int64_t n, double lr,
               double beta1, double beta2, double eps, double weight_decay, double bc1, double bc2,
               double grad_scale) {
  Adamw x = {.param = param, .m = m, .v = v, .grad = grad, .lr = lr, .beta1 = beta1,
             .beta2 = beta2, .eps = eps, .weight_decay = weight_decay, .bc1 = bc1, .bc2 = bc2,
             .grad_scale = grad_scale};
  parallel_range(adamw_range, &x, n, 4);
}
