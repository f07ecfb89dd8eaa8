/*
 * gymrl_native: the N-API face of gymrl's native kernels.
 *
 * This file is only glue: it reads JavaScript arguments (Float32Arrays without copying, sizes as
 * int32), checks every buffer length against the shapes it is given, and calls OpenBLAS (sgemm) or
 * the plain-C fused kernels in fused.c. Semantics are defined by src/tensor/reference.ts; the
 * TypeScript wrapper is src/tensor/native.ts. It is not a general tensor library: float32 only,
 * row-major, dense.
 *
 * Errors: a wrong argument type throws TypeError, a wrong buffer length or a negative size throws
 * RangeError, each message naming the function, the argument, and what was expected.
 */
#include <node_api.h>
#include <cblas.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fused.h"

/* OpenBLAS extensions (declared again here so that a non-OpenBLAS cblas.h still compiles). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
int openblas_get_num_procs(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);

// ----------------------------------------------------------------------------
// argument parsing

#define MAX_ARGS 16

/* One call's arguments, indexed by position. Only the slot matching the spec letter is set. */
typedef struct {
  float* f[MAX_ARGS];
  int32_t* ia[MAX_ARGS];
  size_t len[MAX_ARGS];
  int32_t i[MAX_ARGS];
  double d[MAX_ARGS];
  bool b[MAX_ARGS];
} Args;

static void throw_fmt(napi_env env, int range, const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (range) napi_throw_range_error(env, NULL, msg);
  else napi_throw_type_error(env, NULL, msg);
}

static const char* spec_name(char s) {
  switch (s) {
    case 'f': return "a Float32Array";
    case 'o': return "a Float32Array or null";
    case 'I': return "an Int32Array";
    case 'i': return "a non-negative integer";
    case 'n': return "an integer";
    case 'd': return "a number";
    case 'b': return "a boolean";
    default: return "?";
  }
}

/*
 * Reads the arguments described by spec, one letter each:
 *   f  Float32Array (zero-copy pointer and element count)
 *   o  Float32Array or null/undefined (NULL pointer, length 0)
 *   I  Int32Array (zero-copy)
 *   i  int32 >= 0 (a size)
 *   n  int32 (any sign)
 *   d  number (double)
 *   b  boolean
 * Returns false after throwing a JS error.
 */
/* Copies the k-th comma-separated name of `names` into buf (for error messages). */
static const char* arg_name(const char* names, size_t k, char* buf, size_t cap) {
  const char* p = names;
  for (size_t j = 0; j < k && p; j++) {
    p = strchr(p, ',');
    if (p) p++;
  }
  if (!p) return "?";
  size_t n = strcspn(p, ",");
  if (n >= cap) n = cap - 1;
  memcpy(buf, p, n);
  buf[n] = 0;
  return buf;
}

static bool bad_arg(napi_env env, int range, const char* fn, const char* names, size_t k, char s) {
  char nb[64];
  throw_fmt(env, range, "%s: argument %zu (%s) must be %s", fn, k, arg_name(names, k, nb, sizeof nb),
            spec_name(s));
  return false;
}

static bool parse_args(napi_env env, napi_callback_info info, const char* fn, const char* spec,
                       const char* names, Args* a) {
  napi_value argv[MAX_ARGS];
  size_t want = strlen(spec);
  size_t argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "gymrl_native: napi_get_cb_info failed");
    return false;
  }
  if (argc < want) {
    throw_fmt(env, 0, "%s: expected %zu arguments (%s), got %zu", fn, want, names, argc);
    return false;
  }
  for (size_t k = 0; k < want; k++) {
    napi_status st = napi_ok;
    char s = spec[k];
    if (s == 'f' || s == 'o' || s == 'I') {
      napi_typedarray_type type;
      size_t length = 0;
      void* data = NULL;
      if (s == 'o') {
        napi_valuetype vt;
        napi_typeof(env, argv[k], &vt);
        if (vt == napi_null || vt == napi_undefined) {
          a->f[k] = NULL;
          a->len[k] = 0;
          continue;
        }
      }
      // napi_get_typedarray_info fails (napi_invalid_arg) on anything but a typed array
      st = napi_get_typedarray_info(env, argv[k], &type, &length, &data, NULL, NULL);
      napi_typedarray_type want_type = s == 'I' ? napi_int32_array : napi_float32_array;
      if (st != napi_ok || type != want_type) {
        return bad_arg(env, 0, fn, names, k, s);
      }
      if (s == 'I') a->ia[k] = (int32_t*)data;
      else a->f[k] = (float*)data;
      a->len[k] = length;
    } else if (s == 'i' || s == 'n') {
      st = napi_get_value_int32(env, argv[k], &a->i[k]);
      if (st != napi_ok || (s == 'i' && a->i[k] < 0)) {
        return bad_arg(env, st == napi_ok, fn, names, k, s);
      }
    } else if (s == 'd') {
      st = napi_get_value_double(env, argv[k], &a->d[k]);
      if (st != napi_ok) {
        return bad_arg(env, 0, fn, names, k, s);
      }
    } else if (s == 'b') {
      st = napi_get_value_bool(env, argv[k], &a->b[k]);
      if (st != napi_ok) {
        return bad_arg(env, 0, fn, names, k, s);
      }
    }
  }
  return true;
}

/* Throws a RangeError unless buffer `name` (argument idx) holds at least `expected` elements
   (buffers may be longer than the sizes say; only the prefix is used). */
static bool need(napi_env env, const Args* a, int idx, const char* fn, const char* name,
                 int64_t expected, const char* shape) {
  if ((int64_t)a->len[idx] >= expected) return true;
  throw_fmt(env, 1, "%s: %s has %zu elements, needs at least %lld = %s", fn, name, a->len[idx],
            (long long)expected, shape);
  return false;
}

static _Thread_local char shape_buf[256];
static const char* shape(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(shape_buf, sizeof shape_buf, fmt, ap);
  va_end(ap);
  return shape_buf;
}

/* Checks a buffer length; the shape text is formatted only when the check fails. */
#define NEED(idx, name, expected, ...)                                          \
  do {                                                                          \
    if ((int64_t)a.len[idx] < (int64_t)(expected) &&                            \
        !need(env, &a, idx, FN, name, (int64_t)(expected), shape(__VA_ARGS__))) \
      return NULL;                                                              \
  } while (0)

/* Throws a RangeError unless ids[0..n) all lie in [lo, hi). */
static bool check_range(napi_env env, const char* fn, const char* name, const int32_t* ids,
                        int n, int64_t lo, int64_t hi) {
  for (int i = 0; i < n; i++) {
    if (ids[i] < lo || ids[i] >= hi) {
      throw_fmt(env, 1, "%s: %s[%d] = %d is out of range [%lld, %lld)", fn, name, i, ids[i],
                (long long)lo, (long long)hi);
      return false;
    }
  }
  return true;
}

#define RANGE(ids, name, n, lo, hi) \
  if (!check_range(env, FN, name, ids, n, lo, hi)) return NULL

#define PARSE(spec, names) \
  Args a;                  \
  if (!parse_args(env, info, FN, spec, names, &a)) return NULL

// ----------------------------------------------------------------------------
// BLAS

/*
 * sgemm(c, a, b, m, n, k, transA, transB, beta): C = op(A)·op(B) + beta·C, C (M,N) row-major.
 * A is (M,K), or (K,M) when transA; B is (K,N), or (N,K) when transB. beta 0 overwrites C
 * without reading it (NaNs in C do not propagate).
 */
/* Up to this many rows of C, sgemm runs as one sgemv per row (see js_sgemm). */
#define GEMV_MAX_M 4

static napi_value js_sgemm(napi_env env, napi_callback_info info) {
#define FN "sgemm"
  PARSE("fffiiibbd", "c,a,b,m,n,k,transA,transB,beta");
  int m = a.i[3], n = a.i[4], k = a.i[5];
  bool ta = a.b[6], tb = a.b[7];
  float beta = (float)a.d[8];
  NEED(0, "c", (int64_t)m * n, "M*N with M=%d, N=%d", m, n);
  NEED(1, "a", (int64_t)m * k, "%s with M=%d, K=%d", ta ? "K*M (transA)" : "M*K", m, k);
  NEED(2, "b", (int64_t)k * n, "%s with K=%d, N=%d", tb ? "N*K (transB)" : "K*N", k, n);
  if (m == 0 || n == 0) return NULL;
  float* C = a.f[0];
  if (k == 0) {
    size_t mn = (size_t)m * n;
    if (beta == 0.0f) memset(C, 0, mn * sizeof(float));
    else if (beta != 1.0f) for (size_t i = 0; i < mn; i++) C[i] *= beta;
    return NULL;
  }
  if (m <= GEMV_MAX_M || n == 1) {
    // matrix-vector products (decode with a few sequences): sgemv reads the matrix once per row
    // of C, where sgemm first packs all of it; measured faster up to M = 4 here. OpenBLAS scales
    // y by beta before adding, so for beta 0 clear C first (0·NaN would leave NaN).
    if (beta == 0.0f) memset(C, 0, (size_t)m * n * sizeof(float));
    if (n == 1) {
      // C (M,1) = op(A) · y (K,1): y is B's only column or row, contiguous either way
      if (ta) cblas_sgemv(CblasRowMajor, CblasTrans, k, m, 1.0f, a.f[1], m, a.f[2], 1, beta, C, 1);
      else cblas_sgemv(CblasRowMajor, CblasNoTrans, m, k, 1.0f, a.f[1], k, a.f[2], 1, beta, C, 1);
      return NULL;
    }
    for (int i = 0; i < m; i++) {
      // row i of C (1,N) = row i of op(A) (1,K) · op(B); that row is A[i,:] or A[:,i]
      const float* x = ta ? a.f[1] + i : a.f[1] + (size_t)i * k;
      int incx = ta ? m : 1;
      float* y = C + (size_t)i * n;
      if (tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, a.f[2], k, x, incx, beta, y, 1);
      else cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, a.f[2], n, x, incx, beta, y, 1);
    }
    return NULL;
  }
  int lda = ta ? m : k;
  int ldb = tb ? k : n;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, 1.0f, a.f[1], lda, a.f[2], ldb, beta, C, n);
  return NULL;
#undef FN
}

static napi_value js_set_threads(napi_env env, napi_callback_info info) {
#define FN "setThreads"
  PARSE("i", "n");
  if (a.i[0] < 1) {
    throw_fmt(env, 1, "setThreads: need at least 1 thread, got %d", a.i[0]);
    return NULL;
  }
  openblas_set_num_threads(a.i[0]);
  return NULL;
#undef FN
}

static napi_value js_get_threads(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_create_int32(env, openblas_get_num_threads(), &out);
  return out;
}

static napi_value js_openblas_config(napi_env env, napi_callback_info info) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s; core %s; %d procs", openblas_get_config(), openblas_get_corename(),
           openblas_get_num_procs());
  napi_value out;
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &out);
  return out;
}

/* A no-op with sgemm's argument parsing, to measure per-call overhead. */
static napi_value js_noop(napi_env env, napi_callback_info info) {
#define FN "noop"
  PARSE("fffiiibbd", "c,a,b,m,n,k,transA,transB,beta");
  (void)a;
  return NULL;
#undef FN
}

// ----------------------------------------------------------------------------
// fused kernels (fused.c); each wrapper checks lengths, then calls the plain-C loop

static napi_value js_add(napi_env env, napi_callback_info info) {
#define FN "add"
  PARSE("fffi", "out,a,b,n");
  int n = a.i[3];
  NEED(0, "out", n, "n=%d", n);
  NEED(1, "a", n, "n=%d", n);
  NEED(2, "b", n, "n=%d", n);
  add_f32(a.f[0], a.f[1], a.f[2], n);
  return NULL;
#undef FN
}

static napi_value js_sum_squares(napi_env env, napi_callback_info info) {
#define FN "sumSquares"
  PARSE("fi", "x,n");
  int n = a.i[1];
  NEED(0, "x", n, "n=%d", n);
  napi_value out;
  napi_create_double(env, sum_squares_f32(a.f[0], n), &out);
  return out;
#undef FN
}

static napi_value js_embedding_forward(napi_env env, napi_callback_info info) {
#define FN "embeddingForward"
  PARSE("fIfii", "out,ids,wte,n,c");
  int n = a.i[3], c = a.i[4];
  NEED(0, "out", (int64_t)n * c, "N*C with N=%d, C=%d", n, c);
  NEED(1, "ids", n, "N=%d", n);
  if (c == 0) return NULL;
  RANGE(a.ia[1], "ids", n, 0, (int64_t)a.len[2] / c);
  embedding_forward(a.f[0], a.ia[1], a.f[2], n, c);
  return NULL;
#undef FN
}

static napi_value js_embedding_backward(napi_env env, napi_callback_info info) {
#define FN "embeddingBackward"
  PARSE("ffIii", "dwte,dout,ids,n,c");
  int n = a.i[3], c = a.i[4];
  NEED(1, "dout", (int64_t)n * c, "N*C with N=%d, C=%d", n, c);
  NEED(2, "ids", n, "N=%d", n);
  if (c == 0) return NULL;
  RANGE(a.ia[2], "ids", n, 0, (int64_t)a.len[0] / c);
  embedding_backward(a.f[0], a.f[1], a.ia[2], n, c);
  return NULL;
#undef FN
}

static napi_value js_rmsnorm_forward(napi_env env, napi_callback_info info) {
#define FN "rmsnormForward"
  PARSE("ffffiid", "out,rstd,inp,w,n,c,eps");
  int n = a.i[4], c = a.i[5];
  NEED(0, "out", (int64_t)n * c, "N*C with N=%d, C=%d", n, c);
  NEED(1, "rstd", n, "N=%d", n);
  NEED(2, "inp", (int64_t)n * c, "N*C with N=%d, C=%d", n, c);
  NEED(3, "w", c, "C=%d", c);
  rmsnorm_forward(a.f[0], a.f[1], a.f[2], a.f[3], n, c, (float)a.d[6]);
  return NULL;
#undef FN
}

static napi_value js_rmsnorm_backward(napi_env env, napi_callback_info info) {
#define FN "rmsnormBackward"
  PARSE("ffffffii", "dinp,dw,dout,inp,w,rstd,n,c");
  int n = a.i[6], c = a.i[7];
  NEED(0, "dinp", (int64_t)n * c, "N*C with N=%d, C=%d", n, c);
  NEED(1, "dw", c, "C=%d", c);
  NEED(2, "dout", (int64_t)n * c, "N*C with N=%d, C=%d", n, c);
  NEED(3, "inp", (int64_t)n * c, "N*C with N=%d, C=%d", n, c);
  NEED(4, "w", c, "C=%d", c);
  NEED(5, "rstd", n, "N=%d", n);
  rmsnorm_backward(a.f[0], a.f[1], a.f[2], a.f[3], a.f[4], a.f[5], n, c);
  return NULL;
#undef FN
}

/* ropeForward and ropeBackward share their argument list: (out, inp, pos, cos, sin, n, h, d). */
static bool rope_args(napi_env env, napi_callback_info info, const char* fn, const char* names,
                      Args* out) {

  if (!parse_args(env, info, fn, "ffIffiii", names, out)) return false;
  Args a = *out;
  int n = a.i[5], h = a.i[6], d = a.i[7], half = d >> 1;
  int64_t nhd = (int64_t)n * h * d;
  const char* o = names[0] == 'o' ? "out" : "dinp";
  const char* in = names[0] == 'o' ? "inp" : "dout";
  if (a.len[0] < (size_t)nhd) return need(env, &a, 0, fn, o, nhd, shape("N*H*D with N=%d, H=%d, D=%d", n, h, d));
  if (a.len[1] < (size_t)nhd) return need(env, &a, 1, fn, in, nhd, shape("N*H*D with N=%d, H=%d, D=%d", n, h, d));
  if (a.len[2] < (size_t)n) return need(env, &a, 2, fn, "pos", n, shape("N=%d", n));
  if (half == 0) return true;
  int64_t positions = (int64_t)(a.len[3] < a.len[4] ? a.len[3] : a.len[4]) / half;
  return check_range(env, fn, "pos", a.ia[2], n, 0, positions);
}

static napi_value js_rope_forward(napi_env env, napi_callback_info info) {
  Args a;
  if (!rope_args(env, info, "ropeForward", "out,inp,pos,cos,sin,n,h,d", &a)) return NULL;
  rope_forward(a.f[0], a.f[1], a.ia[2], a.f[3], a.f[4], a.i[5], a.i[6], a.i[7]);
  return NULL;
}

static napi_value js_rope_backward(napi_env env, napi_callback_info info) {
  Args a;
  if (!rope_args(env, info, "ropeBackward", "dinp,dout,pos,cos,sin,n,h,d", &a)) return NULL;
  rope_backward(a.f[0], a.f[1], a.ia[2], a.f[3], a.f[4], a.i[5], a.i[6], a.i[7]);
  return NULL;
}

/* Checks cuSeqlens (S+1 entries, from 0, non-decreasing) and the head counts; returns N through
   *n_out, the att size Σ Hq·L² through *att_out and the longest L through *max_out. */
static bool check_packed(napi_env env, const char* fn, const int32_t* cu, size_t cu_len, int s,
                         int hq, int hkv, int d, int64_t* n_out, int64_t* att_out, int* max_out) {
  if (hkv < 1 || hq < hkv || hq % hkv != 0) {
    throw_fmt(env, 1, "%s: hq=%d must be a positive multiple of hkv=%d", fn, hq, hkv);
    return false;
  }
  if (cu_len < (size_t)s + 1) {
    throw_fmt(env, 1, "%s: cuSeqlens has %zu entries, needs S+1 = %d", fn, cu_len, s + 1);
    return false;
  }
  if (cu[0] != 0) {
    throw_fmt(env, 1, "%s: cuSeqlens[0] must be 0, got %d", fn, cu[0]);
    return false;
  }
  int64_t att = 0;
  int mx = 0;
  for (int i = 0; i < s; i++) {
    int len = cu[i + 1] - cu[i];
    if (len < 0) {
      throw_fmt(env, 1, "%s: cuSeqlens must be non-decreasing, but cuSeqlens[%d]=%d > cuSeqlens[%d]=%d",
                fn, i, cu[i], i + 1, cu[i + 1]);
      return false;
    }
    att += (int64_t)hq * len * len;
    if (len > mx) mx = len;
  }
  *n_out = cu[s];
  *att_out = att;
  *max_out = mx;
  return true;
}

static napi_value js_attention_forward(napi_env env, napi_callback_info info) {
#define FN "attentionForward"
  PARSE("fffffIiiii", "out,att,q,k,v,cuSeqlens,s,hq,hkv,d");
  int s = a.i[6], hq = a.i[7], hkv = a.i[8], d = a.i[9];
  int64_t n, att;
  int max_len;
  if (!check_packed(env, FN, a.ia[5], a.len[5], s, hq, hkv, d, &n, &att, &max_len)) return NULL;
  NEED(0, "out", n * hq * d, "N*Hq*D with N=%lld, Hq=%d, D=%d", (long long)n, hq, d);
  NEED(1, "att", att, "sum of Hq*L*L over sequences");
  NEED(2, "q", n * hq * d, "N*Hq*D with N=%lld, Hq=%d, D=%d", (long long)n, hq, d);
  NEED(3, "k", n * hkv * d, "N*Hkv*D with N=%lld, Hkv=%d, D=%d", (long long)n, hkv, d);
  NEED(4, "v", n * hkv * d, "N*Hkv*D with N=%lld, Hkv=%d, D=%d", (long long)n, hkv, d);
  if (d == 0) return NULL;
  if (attention_forward(a.f[0], a.f[1], a.f[2], a.f[3], a.f[4], a.ia[5], s, hq, hkv, d) != 0)
    napi_throw_error(env, NULL, "attentionForward: out of memory");
  return NULL;
#undef FN
}

static napi_value js_attention_backward(napi_env env, napi_callback_info info) {
#define FN "attentionBackward"
  PARSE("ffffffffIiiii", "dq,dk,dv,dout,q,k,v,att,cuSeqlens,s,hq,hkv,d");
  int s = a.i[9], hq = a.i[10], hkv = a.i[11], d = a.i[12];
  int64_t n, att;
  int max_len;
  if (!check_packed(env, FN, a.ia[8], a.len[8], s, hq, hkv, d, &n, &att, &max_len)) return NULL;
  int64_t nq = n * hq * d, nk = n * hkv * d;
  NEED(0, "dq", nq, "N*Hq*D with N=%lld, Hq=%d, D=%d", (long long)n, hq, d);
  NEED(1, "dk", nk, "N*Hkv*D with N=%lld, Hkv=%d, D=%d", (long long)n, hkv, d);
  NEED(2, "dv", nk, "N*Hkv*D with N=%lld, Hkv=%d, D=%d", (long long)n, hkv, d);
  NEED(3, "dout", nq, "N*Hq*D with N=%lld, Hq=%d, D=%d", (long long)n, hq, d);
  NEED(4, "q", nq, "N*Hq*D with N=%lld, Hq=%d, D=%d", (long long)n, hq, d);
  NEED(5, "k", nk, "N*Hkv*D with N=%lld, Hkv=%d, D=%d", (long long)n, hkv, d);
  NEED(6, "v", nk, "N*Hkv*D with N=%lld, Hkv=%d, D=%d", (long long)n, hkv, d);
  NEED(7, "att", att, "sum of Hq*L*L over sequences");
  if (d == 0 || max_len == 0) return NULL;
  if (attention_backward(a.f[0], a.f[1], a.f[2], a.f[3], a.f[4], a.f[5], a.f[6], a.f[7], a.ia[8],
                         s, hq, hkv, d) != 0)
    napi_throw_error(env, NULL, "attentionBackward: out of memory for its scratch");
  return NULL;
#undef FN
}

static napi_value js_attention_cached(napi_env env, napi_callback_info info) {
#define FN "attentionCached"
  PARSE("ffffIIiiiii", "out,q,kCache,vCache,slot,pos,nq,hq,hkv,d,maxLen");
  int nq = a.i[6], hq = a.i[7], hkv = a.i[8], d = a.i[9], max_len = a.i[10];
  if (hkv < 1 || hq < hkv || hq % hkv != 0) {
    throw_fmt(env, 1, "%s: hq=%d must be a positive multiple of hkv=%d", FN, hq, hkv);
    return NULL;
  }
  int64_t nqd = (int64_t)nq * hq * d;
  NEED(0, "out", nqd, "nq*Hq*D with nq=%d, Hq=%d, D=%d", nq, hq, d);
  NEED(1, "q", nqd, "nq*Hq*D with nq=%d, Hq=%d, D=%d", nq, hq, d);
  NEED(4, "slot", nq, "nq=%d", nq);
  NEED(5, "pos", nq, "nq=%d", nq);
  int64_t per_slot = (int64_t)max_len * hkv * d;
  if (nq == 0 || d == 0) return NULL;
  if (per_slot == 0) {
    throw_fmt(env, 1, "%s: maxLen must be positive", FN);
    return NULL;
  }
  size_t cache_len = a.len[2] < a.len[3] ? a.len[2] : a.len[3];
  RANGE(a.ia[4], "slot", nq, 0, (int64_t)cache_len / per_slot);
  RANGE(a.ia[5], "pos", nq, 0, max_len);
  if (attention_cached(a.f[0], a.f[1], a.f[2], a.f[3], a.ia[4], a.ia[5], nq, hq, hkv, d, max_len) != 0)
    napi_throw_error(env, NULL, "attentionCached: out of memory for the scores scratch");
  return NULL;
#undef FN
}

static napi_value js_swiglu_forward(napi_env env, napi_callback_info info) {
#define FN "swigluForward"
  PARSE("fffi", "out,gate,up,n");
  int n = a.i[3];
  NEED(0, "out", n, "n=%d", n);
  NEED(1, "gate", n, "n=%d", n);
  NEED(2, "up", n, "n=%d", n);
  swiglu_forward(a.f[0], a.f[1], a.f[2], n);
  return NULL;
#undef FN
}

static napi_value js_swiglu_backward(napi_env env, napi_callback_info info) {
#define FN "swigluBackward"
  PARSE("fffffi", "dgate,dup,dout,gate,up,n");
  int n = a.i[5];
  NEED(0, "dgate", n, "n=%d", n);
  NEED(1, "dup", n, "n=%d", n);
  NEED(2, "dout", n, "n=%d", n);
  NEED(3, "gate", n, "n=%d", n);
  NEED(4, "up", n, "n=%d", n);
  swiglu_backward(a.f[0], a.f[1], a.f[2], a.f[3], a.f[4], n);
  return NULL;
#undef FN
}

static napi_value js_logprob_forward(napi_env env, napi_callback_info info) {
#define FN "logprobForward"
  PARSE("ffffIii", "logp,entropy,lse,logits,targets,n,v");
  int n = a.i[5], v = a.i[6];
  NEED(0, "logp", n, "N=%d", n);
  NEED(1, "entropy", n, "N=%d", n);
  NEED(2, "lse", n, "N=%d", n);
  NEED(3, "logits", (int64_t)n * v, "N*V with N=%d, V=%d", n, v);
  NEED(4, "targets", n, "N=%d", n);
  RANGE(a.ia[4], "targets", n, INT32_MIN, v);
  logprob_forward(a.f[0], a.f[1], a.f[2], a.f[3], a.ia[4], n, v);
  return NULL;
#undef FN
}

static napi_value js_logprob_backward(napi_env env, napi_callback_info info) {
#define FN "logprobBackward"
  PARSE("ffoffIii", "dlogits,dlogp,dentropy,logits,lse,targets,n,v");
  int n = a.i[6], v = a.i[7];
  NEED(0, "dlogits", (int64_t)n * v, "N*V with N=%d, V=%d", n, v);
  NEED(1, "dlogp", n, "N=%d", n);
  if (a.f[2] != NULL) NEED(2, "dentropy", n, "N=%d", n);
  NEED(3, "logits", (int64_t)n * v, "N*V with N=%d, V=%d", n, v);
  NEED(4, "lse", n, "N=%d", n);
  NEED(5, "targets", n, "N=%d", n);
  RANGE(a.ia[5], "targets", n, INT32_MIN, v);
  logprob_backward(a.f[0], a.f[1], a.f[2], a.f[3], a.f[4], a.ia[5], n, v);
  return NULL;
#undef FN
}

static napi_value js_adamw(napi_env env, napi_callback_info info) {
#define FN "adamw"
  PARSE("ffffidddddddd", "param,grad,m,v,n,lr,beta1,beta2,eps,weightDecay,bc1,bc2,gradScale");
  int n = a.i[4];
  NEED(0, "param", n, "n=%d", n);
  NEED(1, "grad", n, "n=%d", n);
  NEED(2, "m", n, "n=%d", n);
  NEED(3, "v", n, "n=%d", n);
  adamw_f32(a.f[0], a.f[1], a.f[2], a.f[3], n, a.d[5], a.d[6], a.d[7], a.d[8], a.d[9], a.d[10],
            a.d[11], a.d[12]);
  return NULL;
#undef FN
}

// ----------------------------------------------------------------------------
// module

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, js_get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openblasConfig", NULL, js_openblas_config, NULL, NULL, NULL, napi_enumerable, NULL},
      {"noop", NULL, js_noop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"add", NULL, js_add, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumSquares", NULL, js_sum_squares, NULL, NULL, NULL, napi_enumerable, NULL},
      {"embeddingForward", NULL, js_embedding_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"embeddingBackward", NULL, js_embedding_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rmsnormForward", NULL, js_rmsnorm_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rmsnormBackward", NULL, js_rmsnorm_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ropeForward", NULL, js_rope_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ropeBackward", NULL, js_rope_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionForward", NULL, js_attention_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionBackward", NULL, js_attention_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionCached", NULL, js_attention_cached, NULL, NULL, NULL, napi_enumerable, NULL},
      {"swigluForward", NULL, js_swiglu_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"swigluBackward", NULL, js_swiglu_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"logprobForward", NULL, js_logprob_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"logprobBackward", NULL, js_logprob_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamw", NULL, js_adamw, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
