/**
 * Matmul throughput and per-call overhead of a `Kernels` implementation, measured in-process so a
 * benchmark can print "this machine's sgemm GFLOP/s" beside its own timings. Float32 square NxN,
 * counting 2·N³ FLOPs per matmul. Not a benchmark runner: see bench/sgemm.bench.ts for the table.
 */
import { performance } from "node:perf_hooks";

import type { Kernels } from "./kernels.ts";

function randomF32(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/**
 * GFLOP/s of `reps` C = A·B matmuls of N×N float32 matrices (after one warm-up call), with the
 * kernels' current thread setting.
 */
export function measureSgemmGflops(kernels: Kernels, n: number, reps: number): number {
  const a = randomF32(n * n, 1);
  const b = randomF32(n * n, 2);
  const c = new Float32Array(n * n);
  kernels.matmul(c, a, b, n, n, n, false, false, 0);
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) kernels.matmul(c, a, b, n, n, n, false, false, 0);
  const seconds = (performance.now() - t0) / 1000;
  return (2 * n * n * n * reps) / seconds / 1e9;
}

/** Mean microseconds per call of a 1×1×1 matmul: the fixed cost of crossing into the kernels. */
export function measureMatmulCallOverheadUs(kernels: Kernels, calls = 200_000): number {
  const a = new Float32Array([1]);
  const b = new Float32Array([2]);
  const c = new Float32Array(1);
  for (let i = 0; i < 1000; i++) kernels.matmul(c, a, b, 1, 1, 1, false, false, 1);
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) kernels.matmul(c, a, b, 1, 1, 1, false, false, 1);
  return ((performance.now() - t0) * 1000) / calls;
}
