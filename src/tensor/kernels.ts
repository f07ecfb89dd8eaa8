/**
 * The kernel seam: every heavy numeric operation of the model goes through one `Kernels` object.
 * Two implementations share these exact semantics: `reference.ts` (plain TypeScript loops, float32
 * or float64, the oracle in tests) and `native.ts` (an N-API addon over OpenBLAS, float32 only).
 *
 * Conventions: row-major dense buffers; shapes in comments use M,N,K for matmuls.
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
}
