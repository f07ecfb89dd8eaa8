/**
 * Training throughput of the default demo model (src/model/default-config.ts) on both kernel paths:
 * tokens/s and achieved GFLOP/s of forward + backward + AdamW steps, beside this machine's sgemm
 * GFLOP/s (N=512) measured in the same run. Also batched-decode throughput (64 sequences), which
 * bounds generation speed for RL. Both paths are timed alike: one untimed warm-up step, then the
 * median of --steps timed steps. The reference path (~50× slower) runs on
 * --ref-batch sequences, and reference_speedup compares it with the native path on that same
 * shape, so the ratio is kernels against kernels, not batch size against batch size.
 * Last line (JSON): train_tokens_per_s, train_gflops, sgemm_gflops, sgemm_ratio, reference_speedup,
 * reference_tokens_per_s, config (the config.json fields, gymrl_vocab_map summarised by its size,
 * plus seq, batch and ref_batch).
 * Run: npm run bench:model [-- --seq 256 --batch 16 --steps 5 --ref-batch 1]
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { demoModelConfig } from "../src/model/default-config.ts";
import { trainFlops } from "../src/model/flops.ts";
import { Model, packBatch } from "../src/model/model.ts";
import { AdamW } from "../src/model/optimizer.ts";
import { Rng } from "../src/model/rng.ts";
import { getNativeKernels, nativeUnavailableReason, referenceKernels } from "../src/tensor/index.ts";
import type { Kernels } from "../src/tensor/kernels.ts";
import { measureSgemmGflops } from "../src/tensor/sgemm-bench.ts";

const { values } = parseArgs({
  options: {
    seq: { type: "string", default: "256" },
    batch: { type: "string", default: "16" },
    steps: { type: "string", default: "5" },
    "ref-batch": { type: "string", default: "1" },
  },
});
const seq = Number(values.seq);
const batchSeqs = Number(values.batch);
const steps = Number(values.steps);
const refBatch = Number(values["ref-batch"]);
const cfg = demoModelConfig;
const vocabIds = cfg.gymrl_vocab_map!;

function randomSeqs(count: number, len: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => Array.from({ length: len }, () => vocabIds[rng.int(vocabIds.length)]));
}

interface TrainTiming {
  tokensPerS: number;
  gflops: number;
  msPerStep: number;
}

/** Median time of `nSteps` training steps (after `warmup` untimed ones) on `count` sequences of length seq. */
function timeTraining(kernels: Kernels, count: number, nSteps: number, warmup: number): TrainTiming {
  const model = new Model(cfg, { kernels, seed: 0 });
  const opt = new AdamW(model);
  const batch = packBatch(randomSeqs(count, seq, 1));
  const n = batch.tokens.length;
  const dlogp = new Float32Array(n).fill(-1 / n);
  const step = () => {
    model.forward(batch);
    model.zeroGrad();
    model.backward(dlogp);
    opt.step(model, 1e-4);
  };
  for (let i = 0; i < warmup; i++) step();
  // the median step: the machine is shared, and a median shrugs off a neighbour's burst
  const times: number[] = [];
  for (let i = 0; i < nSteps; i++) {
    const t0 = performance.now();
    step();
    times.push((performance.now() - t0) / 1000);
  }
  const s = times.sort((a, b) => a - b)[Math.floor(nSteps / 2)];
  const flops = trainFlops(model.dims, new Array(count).fill(seq));
  return { tokensPerS: n / s, gflops: flops / s / 1e9, msPerStep: s * 1000 };
}

/** Batched decode: prefill `slots` prompts of 32 tokens, then time `tokens` decode steps. */
function timeDecode(kernels: Kernels, slots: number, tokens: number): number {
  const model = new Model(cfg, { kernels, seed: 0 });
  const cache = model.createKVCache(slots, 32 + tokens + 1);
  const prompts = randomSeqs(slots, 32, 2);
  const slotIds = Array.from({ length: slots }, (_, i) => i);
  model.prefillBatch(cache, slotIds, prompts);
  const next = prompts.map((p) => p[p.length - 1]);
  const t0 = performance.now();
  for (let t = 0; t < tokens; t++) model.decodeStep(cache, slotIds, next);
  return (slots * tokens) / ((performance.now() - t0) / 1000);
}

const native = getNativeKernels();
const fmt = (x: number, d = 1) => x.toFixed(d);
console.log(
  `model: ${cfg.model_type} hidden=${cfg.hidden_size} layers=${cfg.num_hidden_layers} heads=${cfg.num_attention_heads}/${cfg.num_key_value_heads} ` +
    `head_dim=${cfg.head_dim} ffn=${cfg.intermediate_size} vocab=${cfg.vocab_size}; batch ${batchSeqs} × seq ${seq}`,
);

// reference: timed as the native path is (one warm-up step, median of `steps`), on ref-batch sequences
const refT = timeTraining(referenceKernels, refBatch, steps, 1);
console.log(
  `reference: ${fmt(refT.tokensPerS)} tokens/s, ${fmt(refT.gflops, 2)} GFLOP/s ` +
    `(median ${fmt(refT.msPerStep, 0)} ms/step of ${steps} after 1 warm-up, ${refBatch} × ${seq} tokens)`,
);

let result: Record<string, unknown>;
if (native) {
  console.log(native.openblasConfig());
  const sgemm = Math.max(...[0, 1, 2].map(() => measureSgemmGflops(native, 512, 20)));
  const natT = timeTraining(native, batchSeqs, steps, 1);
  const natSame = timeTraining(native, refBatch, steps, 1);
  console.log(`sgemm N=512: ${fmt(sgemm)} GFLOP/s (threads=${native.getThreads()})`);
  console.log(
    `native: ${fmt(natT.tokensPerS, 0)} tokens/s, ${fmt(natT.gflops)} GFLOP/s ` +
      `(median ${fmt(natT.msPerStep, 0)} ms/step of ${steps} after 1 warm-up, ${batchSeqs} × ${seq} tokens)`,
  );
  console.log(
    `native on the reference's shape: ${fmt(natSame.tokensPerS, 0)} tokens/s (${refBatch} × ${seq} tokens): ` +
      `${fmt(natSame.tokensPerS / refT.tokensPerS)}× the reference`,
  );
  const decode = timeDecode(native, 64, 32);
  console.log(`native batched decode, 64 sequences: ${fmt(decode, 0)} tokens/s`);
  result = {
    train_tokens_per_s: Math.round(natT.tokensPerS),
    train_gflops: Number(fmt(natT.gflops, 2)),
    sgemm_gflops: Number(fmt(sgemm, 2)),
    sgemm_ratio: Number((natT.gflops / sgemm).toFixed(3)),
    reference_speedup: Number((natSame.tokensPerS / refT.tokensPerS).toFixed(1)),
    reference_tokens_per_s: Number(fmt(refT.tokensPerS)),
  };
} else {
  const sgemm = measureSgemmGflops(referenceKernels, 512, 1);
  console.log(`native kernels unavailable (${nativeUnavailableReason()}); figures are the reference path's`);
  result = {
    train_tokens_per_s: Math.round(refT.tokensPerS),
    train_gflops: Number(fmt(refT.gflops, 3)),
    sgemm_gflops: Number(fmt(sgemm, 3)),
    sgemm_ratio: Number((refT.gflops / sgemm).toFixed(3)),
    reference_speedup: 1,
    reference_tokens_per_s: Number(fmt(refT.tokensPerS)),
  };
}
const { gymrl_vocab_map: map, ...fields } = cfg;
console.log(
  JSON.stringify({ ...result, config: { ...fields, gymrl_vocab_map_size: map?.length ?? null, seq, batch: batchSeqs, ref_batch: refBatch } }),
);
