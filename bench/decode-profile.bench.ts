/**
 * Where a decode step's time goes, by kernel: the model of bench:vs-llamacpp (random Qwen3-shaped
 * weights, real Qwen3 vocabulary, tied head) run in this thread on the native kernels, every
 * `Kernels` call timed through a wrapper. For 1 and 32 sequences: ms per step per kernel (matmuls
 * split by weight: attention projections, MLP, head), the achieved FLOP rate of the step against
 * this run's sgemm figure, and at 1 sequence the weight bytes read per token against a measured
 * memory rate (bytes moved by a large Float32Array copy, read + write). That copy rate is only an
 * estimate of the bound: a pure read stream runs faster than a copy, so one sequence can beat it.
 * Last line (JSON): ms_per_step_c1, ms_per_step_c32, gflops_c32, sgemm_gflops, fraction_of_sgemm_c32,
 * bytes_per_token_c1, copy_gb_per_s, bandwidth_bound_tokens_per_s, by_kernel_c1, by_kernel_c32.
 * Run: npm run bench:decode-profile [-- --hidden 512 --layers 8 --steps 16]
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import type { ModelConfig } from "../src/model/config.ts";
import { Model } from "../src/model/index.ts";
import { getNativeKernels, type Kernels } from "../src/tensor/index.ts";
import { measureSgemmGflops } from "../src/tensor/sgemm-bench.ts";

const { values } = parseArgs({
  options: {
    hidden: { type: "string", default: "512" },
    layers: { type: "string", default: "8" },
    steps: { type: "string", default: "16" },
    context: { type: "string", default: "64" },
  },
});
const hidden = Number(values.hidden);
const steps = Number(values.steps);
const context = Number(values.context);
const native = getNativeKernels();
if (!native) throw new Error("bench:decode-profile needs the native kernels (build the addon: npm run build:native)");

const cfg: ModelConfig = {
  model_type: "qwen3",
  hidden_size: hidden,
  intermediate_size: Math.round((hidden * 2.75) / 64) * 64,
  num_hidden_layers: Number(values.layers),
  num_attention_heads: hidden / 64,
  num_key_value_heads: hidden / 128,
  head_dim: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 1_000_000,
  vocab_size: 151669,
  tie_word_embeddings: true,
  max_position_embeddings: context + steps + 8,
};

/** Per-kernel time; matmuls are keyed by their output width, which names the weight. */
const ms = new Map<string, number>();
const f = cfg.intermediate_size;
const matmulName = (n: number, k: number) =>
  n === cfg.vocab_size ? "matmul head" : n === f ? "matmul mlp gate/up" : k === f ? "matmul mlp down" : "matmul attention q/k/v/o";
const timed = new Proxy(native as Kernels, {
  get(target, prop, recv) {
    const v = Reflect.get(target, prop, recv) as unknown;
    if (typeof v !== "function") return v;
    return (...args: unknown[]) => {
      const t0 = performance.now();
      const out = (v as (...a: unknown[]) => unknown).apply(target, args);
      const key = prop === "matmul" ? matmulName(args[4] as number, args[5] as number) : String(prop);
      ms.set(key, (ms.get(key) ?? 0) + performance.now() - t0);
      return out;
    };
  },
});

const model = new Model(cfg, { kernels: timed, dtype: "float32" });
for (const s of model.specs) {
  const v = model.params.flat.subarray(s.offset, s.offset + s.size);
  for (let i = 0; i < v.length; i++) v[i] = s.kind === "norm" ? 1 : (((i * 2654435761) >>> 0) / 2 ** 32 - 0.5) * 0.1;
}
const flat = model.params.flat;
// a step reads every weight once (the tied embedding as the head) and does ≈ 2 FLOPs per weight
// per row (attention over a 64-token context is under 1% here)
const weightBytes = flat.length * 4;
const flopsPerToken = 2 * flat.length;

function profile(b: number): { msPerStep: number; byKernel: Record<string, number> } {
  const cache = model.createKVCache(b, cfg.max_position_embeddings);
  const slots = Array.from({ length: b }, (_, i) => i);
  model.prefillBatch(cache, slots, slots.map((i) => Array.from({ length: context }, (_, j) => (i * 7919 + j * 104729) % 150000)));
  model.decodeStep(cache, slots, slots.map(() => 1)); // warm-up
  ms.clear();
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) model.decodeStep(cache, slots, slots.map((i) => (s * 31 + i) % 150000));
  const msPerStep = (performance.now() - t0) / steps;
  const byKernel: Record<string, number> = {};
  for (const [k, v] of [...ms].sort((x, y) => y[1] - x[1])) byKernel[k] = Number((v / steps).toFixed(3));
  byKernel["other (JS between kernels)"] = Number((msPerStep - [...ms.values()].reduce((a, x) => a + x, 0) / steps).toFixed(3));
  return { msPerStep, byKernel };
}

function copyBandwidthGBs(): number {
  const n = 64 * 2 ** 20; // 256 MiB, past every cache
  const src = new Float32Array(n).fill(1);
  const dst = new Float32Array(n);
  dst.set(src);
  const rates: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    dst.set(src);
    rates.push((2 * n * 4) / ((performance.now() - t0) / 1000) / 1e9); // bytes read + written
  }
  return rates.sort((a, b) => a - b)[2];
}

const sgemm = measureSgemmGflops(native, 1024, 5);
const p1 = profile(1);
const p32 = profile(32);
const copy = copyBandwidthGBs();
const show = (label: string, p: { msPerStep: number; byKernel: Record<string, number> }) => {
  console.log(`${label}: ${p.msPerStep.toFixed(2)} ms per step`);
  for (const [k, v] of Object.entries(p.byKernel)) console.log(`  ${k.padEnd(28)} ${v.toFixed(3).padStart(9)} ms  ${((100 * v) / p.msPerStep).toFixed(1).padStart(5)}%`);
};
show("1 sequence", p1);
show("32 sequences", p32);
const gflops32 = (32 * flopsPerToken) / (p32.msPerStep / 1000) / 1e9;
const gflops1 = flopsPerToken / (p1.msPerStep / 1000) / 1e9;
console.log(`sgemm ${sgemm.toFixed(1)} GFLOP/s; decode ${gflops1.toFixed(1)} GFLOP/s at 1, ${gflops32.toFixed(1)} GFLOP/s at 32 (${((100 * gflops32) / sgemm).toFixed(0)}% of sgemm)`);
console.log(
  `1 sequence reads ${(weightBytes / 2 ** 20).toFixed(0)} MiB of weights per token; a large copy moves ${copy.toFixed(1)} GB/s (read + write) → about ${((copy * 1e9) / weightBytes).toFixed(1)} tokens/s at that rate; measured ${(1000 / p1.msPerStep).toFixed(1)}`,
);
console.log(
  JSON.stringify({
    ms_per_step_c1: Number(p1.msPerStep.toFixed(2)),
    ms_per_step_c32: Number(p32.msPerStep.toFixed(2)),
    gflops_c1: Number(gflops1.toFixed(1)),
    gflops_c32: Number(gflops32.toFixed(1)),
    sgemm_gflops: Number(sgemm.toFixed(1)),
    fraction_of_sgemm_c32: Number((gflops32 / sgemm).toFixed(2)),
    bytes_per_token_c1: weightBytes,
    copy_gb_per_s: Number(copy.toFixed(1)),
    bandwidth_bound_tokens_per_s: Number(((copy * 1e9) / weightBytes).toFixed(1)),
    by_kernel_c1: p1.byKernel,
    by_kernel_c32: p32.byKernel,
    config: { hidden, layers: cfg.num_hidden_layers, ffn: f, vocab: cfg.vocab_size, context, steps },
  }),
);
