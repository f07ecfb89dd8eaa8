/**
 * The kernel seam: every heavy numeric operation of the model goes through one `Kernels` object.
 * Two implementations share these exact semantics: `reference.ts` (plain TypeScript loops, float32
 * or float64, the oracle in tests) and `native.ts` (an N-API addon over OpenBLAS, float32 only).
 *
 * Conventions (llm.c):
 * - row-major dense buffers; shapes in comments use M,N,K for matmuls, N for rows (tokens),
 *   C for channels, H for heads, D for head_dim, V for vocabulary, S for sequences;
 * - arguments are outputs first, then inputs and weights, then sizes;
 * - forward kernels overwrite their outputs;
 * - backward kernels ACCUMULATE (+=) into every gradient they write, so callers zero gradient
 *   buffers first — except where a kernel's comment says "overwrites" (ropeBackward,
 *   logprobBackward), which then may also run in place;
 * - all float buffers of one call share one element type (Float32Array or Float64Array);
 *   integer inputs (token ids, positions, sequence offsets) are Int32Array;
 * - buffers may be longer than the sizes say; only the named prefix is read or written.
 */
export type FloatArray = Float32Array | Float64Array;

export interface Kernels {
  /** Human-readable name, e.g. "reference" or "native(openblas)". */
  readonly name: string;

  /**
   * C = op(A) · op(B) + beta·C, with C (M,N).
   * A is (M,K), or (K,M) when transA; B is (K,N), or (N,K) when transB.
   * beta is 0 (overwrite) or 1 (accumulate, as backward passes do).
   */
  matmul(
    c: FloatArray,
    a: FloatArray,
    b: FloatArray,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    beta: 0 | 1,
  ): void;

  // ----------------------------------------------------------------------------------------------
  // elementwise and reductions

  /** out[i] = a[i] + b[i] for i < n. out may alias a or b (residual: add(x, x, y, n)). */
  add(out: FloatArray, a: FloatArray, b: FloatArray, n: number): void;

  /** Σ x[i]² for i < n, accumulated in float64 (for gradient-norm clipping). */
  sumSquares(x: FloatArray, n: number): number;

  // ----------------------------------------------------------------------------------------------
  // embedding: out (N,C) = wte[ids[i]] ; wte is (V,C); ids (N) in [0, V)

  embeddingForward(out: FloatArray, ids: Int32Array, wte: FloatArray, n: number, c: number): void;

  /** dwte[ids[i]] += dout[i] (scatter-add). */
  embeddingBackward(dwte: FloatArray, dout: FloatArray, ids: Int32Array, n: number, c: number): void;

  // ----------------------------------------------------------------------------------------------
  // RMSNorm over the last axis: out (N,C) = inp / sqrt(mean(inp²) + eps) * w ; w (C)
  // rstd (N) = 1 / sqrt(mean(inp²) + eps) is kept for backward. QK-norm uses it with N = tokens·heads,
  // C = head_dim.

  rmsnormForward(
    out: FloatArray,
    rstd: FloatArray,
    inp: FloatArray,
    w: FloatArray,
    n: number,
    c: number,
    eps: number,
  ): void;

  /** dinp += ∂/∂inp, dw += ∂/∂w. */
  rmsnormBackward(
    dinp: FloatArray,
    dw: FloatArray,
    dout: FloatArray,
    inp: FloatArray,
    w: FloatArray,
    rstd: FloatArray,
    n: number,
    c: number,
  ): void;

  // ----------------------------------------------------------------------------------------------
  // RoPE, Hugging Face "rotate_half" layout. inp/out (N,H,D); pos (N) the position of each row;
  // cos/sin (P, D/2) tables with cos[p, j] = cos(p · theta^(-2j/D)).
  // For j < D/2: out[j] = x[j]·cos − x[j+D/2]·sin ; out[j+D/2] = x[j+D/2]·cos + x[j]·sin.

  /** Overwrites out; out may alias inp. */
  ropeForward(
    out: FloatArray,
    inp: FloatArray,
    pos: Int32Array,
    cos: FloatArray,
    sin: FloatArray,
    n: number,
    h: number,
    d: number,
  ): void;

  /** Overwrites dinp with Rᵀ·dout (the inverse rotation); dinp may alias dout. */
  ropeBackward(
    dinp: FloatArray,
    dout: FloatArray,
    pos: Int32Array,
    cos: FloatArray,
    sin: FloatArray,
    n: number,
    h: number,
    d: number,
  ): void;

  // ----------------------------------------------------------------------------------------------
  // Causal grouped-query attention over a packed batch (training and scoring).
  // S sequences are packed back to back: sequence s holds rows cuSeqlens[s] .. cuSeqlens[s+1]-1
  // (cuSeqlens has S+1 entries, cuSeqlens[0] = 0, N = cuSeqlens[S]). No row attends across a
  // sequence boundary. q (N,Hq,D), k and v (N,Hkv,D), out (N,Hq,D); query head h reads kv head
  // floor(h / (Hq/Hkv)). scale = 1/sqrt(D).
  // att holds the softmax probabilities kept for backward: for sequence s of length L, a block of
  // Hq·L·L values at offset Σ_{s'<s} Hq·L_{s'}², laid out (Hq, L, L) with row t holding columns
  // 0..t. Columns > t are left to the implementation (the reference writes 0; the native kernel
  // zeroes them only to the end of the row's 64-row causal block, the part its backward reads), so
  // attentionBackward takes att from the same kernel set's attentionForward.

  attentionForward(
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
  ): void;

  /** dq, dk, dv += ∂/∂q, ∂/∂k, ∂/∂v. */
  attentionBackward(
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
  ): void;

  /**
   * Attention of nq query rows against a KV cache (prefill and batched decode; no backward).
   * kCache, vCache (slots, maxLen, Hkv, D); q, out (nq, Hq, D). Query i reads cache slot
   * slot[i] at positions 0..pos[i] inclusive (its own k/v are already written at pos[i]).
   * scale = 1/sqrt(D).
   */
  attentionCached(
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
  ): void;

  // ----------------------------------------------------------------------------------------------
  // SwiGLU: out (N,F) = silu(gate) · up, silu(x) = x · sigmoid(x)

  swigluForward(out: FloatArray, gate: FloatArray, up: FloatArray, n: number): void;

  /** dgate += dout · up · silu'(gate), dup += dout · silu(gate). */
  swigluBackward(
    dgate: FloatArray,
    dup: FloatArray,
    dout: FloatArray,
    gate: FloatArray,
    up: FloatArray,
    n: number,
  ): void;

  // ----------------------------------------------------------------------------------------------
  // Log-probability of target tokens and entropy, from logits (N,V).
  // lse[i] = log Σ_j exp(logits[i,j]); logp[i] = logits[i, targets[i]] − lse[i];
  // entropy[i] = −Σ_j p_ij log p_ij. Rows with targets[i] < 0 are ignored: logp = entropy = 0
  // (lse is still written) and their gradient rows are zero.

  logprobForward(
    logp: FloatArray,
    entropy: FloatArray,
    lse: FloatArray,
    logits: FloatArray,
    targets: Int32Array,
    n: number,
    v: number,
  ): void;

  /**
   * Overwrites dlogits (N,V) with dlogp[i]·∂logp[i]/∂logits[i,:] + dentropy[i]·∂entropy[i]/∂logits[i,:]
   * (dentropy may be null: no entropy term). dlogits may alias logits (in place).
   */
  logprobBackward(
    dlogits: FloatArray,
    dlogp: FloatArray,
    dentropy: FloatArray | null,
    logits: FloatArray,
    lse: FloatArray,
    targets: Int32Array,
    n: number,
    v: number,
  ): void;

  // ----------------------------------------------------------------------------------------------
  // AdamW (decoupled weight decay), one step over n parameters, in place on param, m, v:
  //   g = grad·gradScale ; m = β1·m + (1−β1)·g ; v = β2·v + (1−β2)·g²
  //   param −= lr · ( (m / bc1) / (sqrt(v / bc2) + eps) + weightDecay · param )
  // bc1 = 1 − β1^t and bc2 = 1 − β2^t are the bias corrections of step t, passed in by the caller.

  adamw(
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
  ): void;
}
