/**
 * sgemm throughput of the native kernels at 1 and 2 OpenBLAS threads, N = 512 and 1024, and the
 * per-call overhead (a 1×1×1 matmul through Kernels, and the addon's bare argument parsing).
 * Run: npm run bench:sgemm
 */
import { performance } from "node:perf_hooks";

import { getNativeKernels, nativeUnavailableReason, referenceKernels } from "../src/tensor/index.ts";
import { measureMatmulCallOverheadUs, measureSgemmGflops } from "../src/tensor/sgemm-bench.ts";

const k = getNativeKernels();
if (!k) {
  console.log(`native kernels unavailable: ${nativeUnavailableReason()}`);
  console.log(`reference matmul, N=256: ${measureSgemmGflops(referenceKernels, 256, 3).toFixed(2)} GFLOP/s`);
  process.exit(0);
}
console.log(k.openblasConfig());
const defaultThreads = k.getThreads();
for (const threads of [1, 2]) {
  k.setThreads(threads);
  for (const n of [512, 1024]) {
    const reps = n === 512 ? 50 : 10;
    const best = Math.max(...[0, 1, 2].map(() => measureSgemmGflops(k, n, reps)));
    console.log(`threads=${threads} N=${n}: ${best.toFixed(1)} GFLOP/s (best of 3 × ${reps} reps)`);
  }
}
k.setThreads(defaultThreads);
console.log(`per call, 1x1x1 matmul via Kernels: ${measureMatmulCallOverheadUs(k).toFixed(3)} µs`);
const one = new Float32Array(1);
const calls = 500_000;
const t0 = performance.now();
for (let i = 0; i < calls; i++) k.addon.noop(one, one, one, 1, 1, 1, false, false, 0);
console.log(`per call, addon argument parsing only: ${(((performance.now() - t0) * 1000) / calls).toFixed(3)} µs`);
