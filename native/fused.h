/*
 * Fused float32 kernels of gymrl's native path: plain C loops (and OpenBLAS for the attention
 * matmuls), no N-API, no argument checking. Semantics and argument order follow the `Kernels`
 * interface in src/tensor/kernels.ts and its oracle src/tensor/reference.ts; gymrl_native.c checks
 * sizes and index ranges before calling these, so every index here is in bounds.
 *
 * Shapes: N rows (tokens), C channels, H heads, D head_dim, V vocabulary, S sequences.
 * Forward kernels overwrite their outputs; backward kernels accumulate (+=) unless noted.
 */
#ifndef GYMRL_FUSED_H
#define GYMRL_FUSED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Runs fn(ctx, u, scratch) for u in [0, units) on up to openblas_get_num_threads() threads, the
   caller included, each with its own scratch of scratch_len floats. With `blas`, OpenBLAS runs
   single-threaded meanwhile (each thread makes its own sgemm calls) and gets its thread count
   back after. Large rmsnorm-forward, swiglu, logprob and adamw calls split over threads the same way.
   Returns 0, or -1 when the scratch cannot be allocated (fn then never ran). */
typedef void (*unit_fn)(const void* ctx, int unit, float* scratch);
int parallel_units(unit_fn fn, const void* ctx, int units, size_t scratch_len, bool blas);

// elementwise and reductions
void add_f32(float* out, const float* a, const float* b, int64_t n);  // out may alias a or b
double sum_squares_f32(const float* x, int64_t n);

// embedding: out (N,C) = wte[ids[i]]; dwte[ids[i]] += dout[i]
void embedding_forward(float* out, const int32_t* ids, const float* wte, int n, int c);
void embedding_backward(float* dwte, const float* dout, const int32_t* ids, int n, int c);

// RMSNorm over C; rstd (N) kept for backward
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w, int n, int c,
                     float eps);
void rmsnorm_backward(float* dinp, float* dw, const float* dout, const float* inp, const float* w,
                      const float* rstd, int n, int c);

// RoPE, rotate_half layout; both overwrite and may run in place
void rope_forward(float* out, const float* inp, const int32_t* pos, const float* cos,
                  const float* sin, int n, int h, int d);
void rope_backward(float* dinp, const float* dout, const int32_t* pos, const float* cos,
                   const float* sin, int n, int h, int d);

// causal GQA attention over packed sequences; att holds the probabilities, (Hq,L,L) per sequence.
// Above the diagonal att is zeroed only to the end of each row's ATT_BLOCK-row block (what
// attention_backward reads); the rest of the row is left unwritten.
// Run on up to openblas_get_num_threads() threads (one (sequence, kv head) pair at a time each).
// Return 0, or -1 when out of memory for scratch (nothing written then).
int attention_forward(float* out, float* att, const float* q, const float* k, const float* v,
                      const int32_t* cu_seqlens, int s, int hq, int hkv, int d);
int attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                       const float* k, const float* v, const float* att, const int32_t* cu_seqlens,
                       int s, int hq, int hkv, int d);
// attention against a KV cache (slots, maxLen, Hkv, D): query row i reads slot[i] at positions
// 0..pos[i]. Runs of rows of one slot at consecutive positions are computed as blocks, on up to
// openblas_get_num_threads() threads. Returns 0, or -1 when out of memory for scratch.
int attention_cached(float* out, const float* q, const float* k_cache, const float* v_cache,
                     const int32_t* slot, const int32_t* pos, int nq, int hq, int hkv, int d,
                     int max_len);

// SwiGLU: out = silu(gate) * up
void swiglu_forward(float* out, const float* gate, const float* up, int64_t n);
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, int64_t n);

// log-probabilities of targets, entropy and log-sum-exp from logits (N,V); targets < 0 ignored
void logprob_forward(float* logp, float* entropy, float* lse, const float* logits,
                     const int32_t* targets, int n, int v);
// overwrites dlogits (may alias logits); dentropy may be NULL
void logprob_backward(float* dlogits, const float* dlogp, const float* dentropy,
                      const float* logits, const float* lse, const int32_t* targets, int n, int v);

// AdamW, in place on param, m, v
void adamw_f32(float* param, const float* grad, float* m, float* v, int64_t n, double lr,
               double beta1, double beta2, double eps, double weight_decay, double bc1, double bc2,
               double grad_scale);

#endif
