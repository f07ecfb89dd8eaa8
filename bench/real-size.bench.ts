/**
 * What a real-size model costs here: Qwen3-0.6B's shapes (hidden 1024, 28 layers, 16 query / 8 KV
 * heads × 128, SwiGLU 3072, vocabulary 151,936, tied head) on random weights, native kernels.
 *   - machine: sgemm GFLOP/s (N=1024) and memory bandwidth (a weight-streaming gemv, the shape of
 *     a decode step, and a plain stream), measured at the start and again at the end of the run;
 *   - the sampler at V = 151,936: ms per draw of src/engine/sampler.ts against the implementation
 *     that sorts the vocabulary (src/engine/sampler-sorting.ts), per sampling mode;
 *   - generation (child process): the embedded engine, random prompts, temperature 1, at 1 and 32
 *     concurrent sequences; tokens/s of the decode phase (from the moment every sequence has its
 *     first token) and end to end;
 *   - training (child process): one packed batch, forward + backward + AdamW;
 * each child reports its peak resident memory (/proc/self/status VmHWM, GiB), so peaks are
 * separate. Then one line per figure says what bounds it: bytes/token against the bandwidth, or
 * FLOPs/token against sgemm. The 2 cores are shared with other work: figures are noisy.
 * Last line (JSON): gen_tokens_per_s_c1, gen_tokens_per_s_c32, train_tokens_per_s,
 * train_peak_rss_gb, gen_peak_rss_gb, sgemm_gflops (plus the other figures and the config).
 * Run: npm run bench:real-size [-- --prompt 16 --gen 16 --train-seqs 2 --train-len 256 --steps 1]
 * The defaults take a few minutes on an idle machine; a realistic RL batch is longer, e.g.
 * --train-seqs 4 --train-len 512 --steps 2 (2k tokens; the first step, which faults in the
 * activation pages, is then left out).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { allocSharedParams, createEmbeddedEngine } from "../src/engine/embedded-engine.ts";
import { Sampler } from "../src/engine/sampler.ts";
import { sampleBySorting } from "../src/engine/sampler-sorting.ts";
import type { SamplingParams } from "../src/engine/types.ts";
import { type Dims, dimsOf, type ModelConfig, parseModelConfig } from "../src/model/config.ts";
import { attentionForwardFlops, denseForwardFlopsPerToken, trainFlops } from "../src/model/flops.ts";
import { defaultChunkRows } from "../src/model/lm-head.ts";
import { Model, packBatch } from "../src/model/model.ts";
import { AdamW } from "../src/model/optimizer.ts";
import { numParamsOf, paramSpecs, type ParamSpec } from "../src/model/params.ts";
import { Rng } from "../src/model/rng.ts";
import { getNativeKernels, nativeUnavailableReason } from "../src/tensor/index.ts";
import type { NativeKernels } from "../src/tensor/native.ts";
import { measureSgemmGflops } from "../src/tensor/sgemm-bench.ts";

const { values } = parseArgs({
  options: {
    part: { type: "string", default: "main" }, // internal: "gen" / "train" run in the children
    prompt: { type: "string", default: "16" },
    gen: { type: "string", default: "16" },
    "train-seqs": { type: "string", default: "2" },
    "train-len": { type: "string", default: "256" },
    steps: { type: "string", default: "1" },
  },
});
const num = (name: keyof typeof values, min: number): number => {
  const x = Number(values[name]);
  if (!Number.isInteger(x) || x < min) throw new Error(`--${name} must be an integer >= ${min}, got ${values[name]}`);
  return x;
};
const promptLen = num("prompt", 1);
const genLen = num("gen", 2);
const trainSeqs = num("train-seqs", 1);
const trainLen = num("train-len", 2);
const steps = num("steps", 1);

/** Qwen3-0.6B's config.json (the fields gymrl reads). */
const QWEN3_0_6B: ModelConfig = parseModelConfig({
  model_type: "qwen3",
  hidden_size: 1024,
  intermediate_size: 3072,
  num_hidden_layers: 28,
  num_attention_heads: 16,
  num_key_value_heads: 8,
  head_dim: 128,
  rms_norm_eps: 1e-6,
  rope_theta: 1_000_000,
  vocab_size: 151_936,
  tie_word_embeddings: true,
  max_position_embeddings: 40_960,
  hidden_act: "silu",
});
const dims: Dims = dimsOf(QWEN3_0_6B);
const specs: ParamSpec[] = paramSpecs(dims);
const numParams = numParamsOf(specs);
const GiB = 2 ** 30;
const MACHINE_GIB = 24;

function kernels(): NativeKernels {
  const k = getNativeKernels();
  if (!k) throw new Error(`bench:real-size needs the native kernels: ${nativeUnavailableReason()}`);
  return k;
}

/** Random weights, fast (a JS normal per weight would take longer than the benchmark): norms 1, the rest uniform with std 0.02. */
function fillRandom(flat: Float32Array): void {
  const a = 0.02 * Math.sqrt(3);
  let s = 0x9e3779b9;
  for (const sp of specs) {
    const v = flat.subarray(sp.offset, sp.offset + sp.size);
    if (sp.kind === "norm") {
      v.fill(1);
      continue;
    }
    for (let i = 0; i < v.length; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      v[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * a;
    }
  }
}

function peakRssGiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  return m ? (Number(m[1]) * 1024) / GiB : NaN;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const round = (x: number, digits: number) => Number(x.toFixed(digits));

// ------------------------------------------------------------------------------------------------
// child: generation

async function genPart(): Promise<void> {
  const flat = allocSharedParams(numParams); // shared with the engine's worker: one copy of the weights
  fillRandom(flat);
  const maxSlots = 32;
  const engine = await createEmbeddedEngine({
    config: QWEN3_0_6B,
    sharedParams: flat,
    slots: maxSlots,
    maxModelLen: promptLen + genLen,
    kernels: "native",
    prefixCaching: false,
  });
  const rng = new Rng(1);
  const result: Record<string, number> = {};
  for (const c of [1, 32]) {
    const times: number[][] = Array.from({ length: c }, () => []);
    const t0 = performance.now();
    const results = await Promise.all(
      times.map((ts, i) =>
        engine.generate(
          {
            promptTokenIds: Array.from({ length: promptLen }, () => rng.int(dims.vOut)),
            sampling: { temperature: 1, topP: 1, topK: 0, seed: i },
            maxTokens: genLen,
            stopTokenIds: [],
          },
          { onToken: () => ts.push(performance.now()) },
        ),
      ),
    );
    const tEnd = performance.now();
    const generated = results.reduce((a, r) => a + r.generationTokenIds.length, 0);
    // decode phase: from the moment the last sequence got its first token (all prompts are in)
    const tDecode = Math.max(...times.map((ts) => ts[0]));
    const decoded = times.reduce((a, ts) => a + ts.filter((t) => t > tDecode).length, 0);
    const decodeRate = decoded / ((tEnd - tDecode) / 1000);
    const e2e = generated / ((tEnd - t0) / 1000);
    const msPerStep = (tEnd - tDecode) / Math.max(1, Math.max(...times.map((ts) => ts.filter((t) => t > tDecode).length)));
    console.log(
      `  c=${String(c).padStart(2)}: decode ${decodeRate.toFixed(2)} tokens/s (${decoded} tokens, ${msPerStep.toFixed(0)} ms per step); end to end ${e2e.toFixed(2)} tokens/s (${generated} tokens in ${((tEnd - t0) / 1000).toFixed(1)} s, prompts of ${promptLen})`,
    );
    result[`c${c}`] = decodeRate;
    result[`c${c}_e2e`] = e2e;
    result[`c${c}_ms_per_step`] = msPerStep;
  }
  await engine.close();
  console.log(JSON.stringify({ ...result, peak_rss_gb: peakRssGiB() }));
}

// ------------------------------------------------------------------------------------------------
// child: training

function trainPart(): void {
  const K = kernels();
  const flat = new Float32Array(numParams);
  fillRandom(flat);
  const model = new Model(QWEN3_0_6B, { kernels: K, params: flat });
  const opt = new AdamW(model);
  const rng = new Rng(2);
  const batch = packBatch(Array.from({ length: trainSeqs }, () => Array.from({ length: trainLen }, () => rng.int(dims.vOut))));
  const n = batch.tokens.length;
  const dlogp = new Float32Array(n).map((_, i) => (batch.targets[i] >= 0 ? -1 / n : 0)); // SFT's mean NLL
  // fault in gradients and AdamW's moments before timing: a steady-state step never does
  model.zeroGrad();
  opt.m.fill(0);
  opt.v.fill(0);
  const rows: { fwd: number; bwd: number; opt: number }[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    model.forward(batch);
    const t1 = performance.now();
    model.zeroGrad();
    model.backward(dlogp);
    const t2 = performance.now();
    opt.step(model, 1e-5);
    const t3 = performance.now();
    rows.push({ fwd: (t1 - t0) / 1000, bwd: (t2 - t1) / 1000, opt: (t3 - t2) / 1000 });
    const r = rows[s];
    console.log(
      `  step ${s + 1}: forward ${r.fwd.toFixed(1)} s, zero grads + backward ${r.bwd.toFixed(1)} s, AdamW ${r.opt.toFixed(1)} s: ${(n / (r.fwd + r.bwd + r.opt)).toFixed(1)} tokens/s`,
    );
  }
  // the first step also faults in every activation page: with more than one, it is left out
  const timed = rows.length > 1 ? rows.slice(1) : rows;
  const stepS = median(timed.map((r) => r.fwd + r.bwd + r.opt));
  console.log(
    JSON.stringify({
      tokens_per_s: n / stepS,
      step_s: stepS,
      fwd_bwd_s: median(timed.map((r) => r.fwd + r.bwd)),
      adamw_s: median(timed.map((r) => r.opt)),
      logit_floats: model.logitFloats,
      activation_gb: (4 * model.activationFloats) / GiB,
      attention_gb: (4 * dims.l * dims.hq * trainSeqs * trainLen * trainLen) / GiB, // kept softmax probabilities
      peak_rss_gb: peakRssGiB(),
    }),
  );
}

// ------------------------------------------------------------------------------------------------
// parent: machine figures, sampler, children, bounds

interface Machine {
  sgemm: number;
  gemvGBs: number;
  streamGBs: number;
}

function measureMachine(K: NativeKernels): Machine {
  const sgemm = Math.max(measureSgemmGflops(K, 1024, 4), measureSgemmGflops(K, 1024, 4));
  // a decode step streams weights through a (1 × C)·(V × C)ᵀ product: time that on the head's shape
  const { c, vOut } = dims;
  const w = new Float32Array(vOut * c).fill(0.01);
  const x = new Float32Array(c).fill(1);
  const y = new Float32Array(vOut);
  K.matmul(y, x, w, 1, vOut, c, false, true, 0);
  const gemv: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    K.matmul(y, x, w, 1, vOut, c, false, true, 0);
    gemv.push((vOut * c * 4) / ((performance.now() - t0) / 1000) / 1e9);
  }
  // a plain stream: out = a + b (reads 2, writes 1)
  const len = 1 << 26;
  const a = new Float32Array(len).fill(1);
  const b = new Float32Array(len).fill(2);
  const o = new Float32Array(len);
  K.add(o, a, b, len);
  const stream: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    K.add(o, a, b, len);
    stream.push((3 * len * 4) / ((performance.now() - t0) / 1000) / 1e9);
  }
  return { sgemm, gemvGBs: median(gemv), streamGBs: median(stream) };
}

/** ms per draw at V = 151,936: sampler.ts against the sorting implementation, per mode. */
function samplerFigures(): Record<string, { fastMs: number; sortMs: number; speedup: number }> {
  const V = dims.vOut;
  const rng = new Rng(3);
  const logits = Float32Array.from({ length: V }, () => 3 * rng.normal());
  const modes: [string, SamplingParams][] = [
    ["greedy", { temperature: 0, topP: 1, topK: 0 }],
    ["temperature 1", { temperature: 1, topP: 1, topK: 0 }],
    ["top-k 50", { temperature: 1, topP: 1, topK: 50 }],
    ["top-p 0.9", { temperature: 1, topP: 0.9, topK: 0 }],
    ["top-k 50 + top-p 0.9", { temperature: 0.7, topP: 0.9, topK: 50 }],
  ];
  const sampler = new Sampler(V);
  const out: Record<string, { fastMs: number; sortMs: number; speedup: number }> = {};
  for (const [name, p] of modes) {
    const time = (draw: () => unknown, reps: number) => {
      draw();
      const ts: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        draw();
        ts.push(performance.now() - t0);
      }
      return median(ts);
    };
    const r1 = new Rng(4);
    const r2 = new Rng(4);
    const fastMs = time(() => sampler.sample(logits, 0, p, r1), 15);
    const sortMs = time(() => sampleBySorting(logits, 0, V, p, r2), 3);
    out[name] = { fastMs: round(fastMs, 3), sortMs: round(sortMs, 1), speedup: round(sortMs / fastMs, 1) };
    console.log(`  ${name.padEnd(22)} ${fastMs.toFixed(2).padStart(7)} ms per draw; sorting ${sortMs.toFixed(1).padStart(7)} ms: ${(sortMs / fastMs).toFixed(1)}× faster`);
  }
  return out;
}

/** Runs this file with --part `part` in a child process; its output streams through; returns its last line. */
function child(part: string): Promise<Record<string, number>> {
  const args = ["--import", "tsx", fileURLToPath(import.meta.url), "--part", part];
  for (const k of ["prompt", "gen", "train-seqs", "train-len", "steps"] as const) args.push(`--${k}`, String(values[k]));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let pending = "";
    let figures = "";
    p.stdout.on("data", (d: Buffer) => {
      // stream the child's lines as they come; its JSON line is for this process
      const lines = (pending + d.toString()).split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith("{")) figures = line;
        else console.log(line);
      }
    });
    p.on("exit", (code) => {
      if (pending.startsWith("{")) figures = pending;
      if (code !== 0 || figures === "") reject(new Error(`the ${part} child exited with code ${code}`));
      else resolve(JSON.parse(figures) as Record<string, number>);
    });
  });
}

async function main(): Promise<void> {
  const K = kernels();
  const { c, vOut, l, hkv, d } = dims;
  console.log(`Qwen3-0.6B shapes, random weights: ${(numParams / 1e6).toFixed(0)}M parameters (tied head), vocabulary ${vOut}; ${K.openblasConfig()}`);
  console.log("machine:");
  const m0 = measureMachine(K);
  console.log(`  sgemm ${m0.sgemm.toFixed(1)} GFLOP/s (N=1024); gemv (1 × ${c})·(${vOut} × ${c})ᵀ ${m0.gemvGBs.toFixed(1)} GB/s; stream ${m0.streamGBs.toFixed(1)} GB/s`);
  console.log(`sampler at V = ${vOut} (logits 3·N(0,1)):`);
  const sampler = samplerFigures();
  console.log(`generation (embedded engine, prompts of ${promptLen}, ${genLen} tokens each, temperature 1):`);
  const gen = await child("gen");
  console.log(`training (${trainSeqs} × ${trainLen} tokens packed, forward + backward + AdamW, ${steps} step(s)):`);
  const train = await child("train");
  const m1 = measureMachine(K);
  console.log(`machine again: sgemm ${m1.sgemm.toFixed(1)} GFLOP/s; gemv ${m1.gemvGBs.toFixed(1)} GB/s; stream ${m1.streamGBs.toFixed(1)} GB/s`);
  const sgemm = (m0.sgemm + m1.sgemm) / 2;
  const bw = (Math.max(m0.gemvGBs, m0.streamGBs) + Math.max(m1.gemvGBs, m1.streamGBs)) / 2;

  // --- what bounds each figure
  const ctx = promptLen + genLen / 2; // mean context of a decode step
  const weightBytes = 4 * (numParams - (dims.tied ? 0 : dims.v * c)); // every matrix a decode step reads (the head included)
  const kvBytes = 4 * 2 * l * hkv * d * ctx; // one sequence's keys and values, read once per step
  const fwdFlops = denseForwardFlopsPerToken(dims) + attentionForwardFlops(dims, ctx) / ctx;
  const bound = (conc: number) => {
    const bytes = weightBytes / conc + kvBytes;
    const byBw = (bw * 1e9) / bytes;
    const byFlops = (sgemm * 1e9) / fwdFlops;
    return { bytes, byBw, byFlops, limit: Math.min(byBw, byFlops) };
  };
  console.log("what bounds each figure:");
  for (const conc of [1, 32]) {
    const b = bound(conc);
    const got = gen[`c${conc}`];
    const which = b.byBw < b.byFlops ? "memory bandwidth" : "sgemm FLOPs";
    console.log(
      `  generation c=${conc}: ${(b.bytes / 1e9).toFixed(3)} GB/token (weights / ${conc} + KV) → ≤ ${b.byBw.toFixed(1)} tokens/s at ${bw.toFixed(1)} GB/s; ${(fwdFlops / 1e9).toFixed(2)} GFLOP/token → ≤ ${b.byFlops.toFixed(1)} tokens/s at ${sgemm.toFixed(1)} GFLOP/s. Bound: ${which}; measured ${got.toFixed(2)} = ${((100 * got) / b.limit).toFixed(0)}% of it`,
    );
  }
  const tokens = trainSeqs * trainLen;
  const modelFlops = trainFlops(dims, Array(trainSeqs).fill(trainLen));
  // the chunked head recomputes its logits in backward when the batch takes more than one chunk
  const recompute = tokens - trainSeqs > defaultChunkRows(vOut) ? 2 * c * vOut * (tokens - trainSeqs) : 0;
  const adamBytes = 4 * numParams * 7; // reads param, grad, m, v; writes param, m, v
  const trainS = (modelFlops + recompute) / (sgemm * 1e9) + adamBytes / (bw * 1e9);
  console.log(
    `  training: ${((modelFlops + recompute) / tokens / 1e9).toFixed(2)} GFLOP/token (${(modelFlops / tokens / 1e9).toFixed(2)} model + ${(recompute / tokens / 1e9).toFixed(2)} head recompute) at ${sgemm.toFixed(1)} GFLOP/s, plus AdamW's ${(adamBytes / 1e9).toFixed(1)} GB per step at ${bw.toFixed(1)} GB/s → ≤ ${(tokens / trainS).toFixed(1)} tokens/s. Bound: sgemm FLOPs; measured ${train.tokens_per_s.toFixed(1)} = ${((100 * train.tokens_per_s * trainS) / tokens).toFixed(0)}% of it`,
  );
  // what a bigger batch of the same sequence length would need: the peak less this batch's activations, plus per sequence
  const perSeqGiB = train.activation_gb / trainSeqs;
  const fixedGiB = train.peak_rss_gb - train.activation_gb;
  const maxSeqs = Math.floor((MACHINE_GIB - fixedGiB) / perSeqGiB);
  console.log(
    `  activations: ${(((train.activation_gb - train.attention_gb) * 1024) / tokens).toFixed(2)} MiB per token + attention probabilities ${((train.attention_gb * 1024) / trainSeqs).toFixed(0)} MiB per ${trainLen}-token sequence (${l} layers × ${dims.hq} heads × L²): about ${maxSeqs} sequences of ${trainLen} (${maxSeqs * trainLen} tokens) fit in ${MACHINE_GIB} GiB beside the ${fixedGiB.toFixed(1)} GiB of weights, grads and moments`,
  );
  console.log(
    `  memory: training peak ${train.peak_rss_gb.toFixed(2)} GiB (weights, grads, AdamW m and v = ${((16 * numParams) / GiB).toFixed(1)} GiB; activations for ${tokens} tokens; logits ≤ ${((4 * train.logit_floats) / 2 ** 20).toFixed(0)} MiB at once) ${train.peak_rss_gb < MACHINE_GIB ? "fits" : "does NOT fit"} this machine's ${MACHINE_GIB} GiB; generation peak ${gen.peak_rss_gb.toFixed(2)} GiB`,
  );

  console.log(
    JSON.stringify({
      gen_tokens_per_s_c1: round(gen.c1, 2),
      gen_tokens_per_s_c32: round(gen.c32, 2),
      train_tokens_per_s: round(train.tokens_per_s, 2),
      train_peak_rss_gb: round(train.peak_rss_gb, 2),
      gen_peak_rss_gb: round(gen.peak_rss_gb, 2),
      sgemm_gflops: round(sgemm, 1),
      memory_gb_per_s: round(bw, 1),
      gen_e2e_tokens_per_s_c1: round(gen.c1_e2e, 2),
      gen_e2e_tokens_per_s_c32: round(gen.c32_e2e, 2),
      train_step_s: round(train.step_s, 1),
      train_adamw_s: round(train.adamw_s, 1),
      sampler_ms_per_draw: sampler,
      config: { params: numParams, prompt: promptLen, gen: genLen, train_seqs: trainSeqs, train_len: trainLen, steps },
    }),
  );
}

if (values.part === "gen") await genPart();
else if (values.part === "train") trainPart();
else await main();
