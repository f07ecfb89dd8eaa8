/**
 * Training throughput of the two PolicyTrainers on one config, in one run: the embedded trainer,
 * then the PyTorch worker with 1 and 2 ranks (DDP, gloo on CPU), each taking GRPO steps (forward,
 * backward, clipped PG loss with IS correction, AdamW) on the same packed batch of B sequences × T
 * tokens of the demo model (hidden 256, 4 layers, 8/4 heads). Training tokens/s = batch tokens / wall
 * time of trainStep (round trip included), mean over the timed steps after one warm-up step.
 * Refit: the torch worker exports its weights (safetensors, atomic) and an embedded engine loads
 * them (`updateWeights({kind: "checkpoint", dir})`); refit_ms is the mean of three.
 * Last line (JSON): embedded_tokens_per_s, torch_tokens_per_s_np1, torch_tokens_per_s_np2, refit_ms.
 * Run: npm run bench:trainer [-- --steps 3 --batch 16 --seq 256]
 */
import { rmSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createEmbeddedEngine } from "../src/engine/index.ts";
import { saveCheckpoint } from "../src/model/checkpoint.ts";
import { demoModelConfig } from "../src/model/default-config.ts";
import { Model } from "../src/model/model.ts";
import { getKernels } from "../src/tensor/index.ts";
import type { ClippedPgLossConfig } from "../src/grpo/defaults.ts";
import { EmbeddedTrainer, type PolicyTrainer, type TrainBatch } from "../src/grpo/trainer.ts";
import { TorchTrainer } from "../src/grpo/torch-trainer/index.ts";
import { randomTrainBatch, tmpDir } from "../src/grpo/torch-trainer/testing.ts";

const { values } = parseArgs({
  options: { steps: { type: "string", default: "3" }, batch: { type: "string", default: "16" }, seq: { type: "string", default: "256" } },
});
const steps = Math.max(1, Number(values.steps));
const B = Number(values.batch);
const T = Number(values.seq);
const log = (l: string) => process.stderr.write(l + "\n");
const LOSS: Partial<ClippedPgLossConfig> = { referencePolicyKlPenalty: 0.01, useImportanceSamplingCorrection: true };
const ADAMW = { weightDecay: 0.1, gradClip: 1.0 };
const LR = 1e-5;
const kernels = getKernels();
const tmp = tmpDir("gymrl-bench-trainer-");

async function tokensPerS(name: string, trainer: PolicyTrainer, batch: TrainBatch): Promise<number> {
  await trainer.trainStep(batch, LOSS, { lr: LR }); // warm-up: allocations, first-touch
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await trainer.trainStep(batch, LOSS, { lr: LR });
  const s = (performance.now() - t0) / 1000 / steps;
  const tps = batch.tokens.length / s;
  log(`  ${name.padEnd(34)} ${s.toFixed(3)} s/step  ${tps.toFixed(0)} tokens/s`);
  return tps;
}

try {
  const model = new Model(demoModelConfig, { kernels, seed: 1 });
  const init = join(tmp, "init");
  saveCheckpoint(init, model);
  const ids = demoModelConfig.gymrl_vocab_map!;
  const lens = Array.from({ length: B }, () => T);
  const scored = new EmbeddedTrainer({ model }).logprobsSync(randomTrainBatch(3, ids, lens, T / 4));
  const batch = randomTrainBatch(3, ids, lens, T / 4, scored.logprobs);
  const cores = cpus().length;
  log(`trainer throughput: demo model (${model.numParams} parameters), ${B} × ${T} = ${B * T} tokens/step, ${steps} timed steps, ${cores} cores`);

  const embedded = new EmbeddedTrainer({ model: new Model(demoModelConfig, { kernels, params: Float32Array.from(model.params.flat) }), adamw: ADAMW, microBatchTokens: 4096 });
  const embeddedTps = await tokensPerS(embedded.description, embedded, batch);

  const common = { checkpoint: init, adamw: ADAMW, microBatchTokens: 4096, callTimeoutS: 600 };
  const np1 = await TorchTrainer.start({ ...common, nprocPerNode: 1, threadsPerRank: cores });
  let np1Tps: number;
  let refitMs: number;
  try {
    np1Tps = await tokensPerS(np1.description.split(",")[0], np1, batch);
    const engine = await createEmbeddedEngine({ modelDir: init, slots: 4 });
    try {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const dir = await np1.exportCheckpoint(join(tmp, "refit"));
        await engine.updateWeights({ kind: "checkpoint", dir });
        times.push(performance.now() - t0);
      }
      refitMs = times.reduce((a, b) => a + b, 0) / times.length;
      log(`  refit (export + engine checkpoint load) ${refitMs.toFixed(1)} ms, engine at policy version ${engine.policyVersion}`);
    } finally {
      await engine.close();
    }
  } finally {
    await np1.close();
  }
  const np2 = await TorchTrainer.start({ ...common, nprocPerNode: 2, threadsPerRank: Math.max(1, Math.floor(cores / 2)) });
  let np2Tps: number;
  try {
    np2Tps = await tokensPerS(np2.description.split(",")[0], np2, batch);
  } finally {
    await np2.close();
  }
  const r = (x: number) => Number(x.toFixed(1));
  console.log(JSON.stringify({ embedded_tokens_per_s: r(embeddedTps), torch_tokens_per_s_np1: r(np1Tps), torch_tokens_per_s_np2: r(np2Tps), refit_ms: r(refitMs) }));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
