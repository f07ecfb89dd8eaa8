/**
 * Fixtures for the torch worker's tests and bench: a small random checkpoint written by gymrl's own
 * saveCheckpoint, and GRPO-shaped packed batches over its vocabulary. Test support only.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { saveCheckpoint } from "../../model/checkpoint.ts";
import type { ModelConfig } from "../../model/config.ts";
import { Model } from "../../model/model.ts";
import { Rng } from "../../model/rng.ts";
import { randomizeParams, tinyConfig } from "../../model/testing.ts";
import type { Kernels } from "../../tensor/kernels.ts";
import type { TrainBatch } from "../trainer.ts";

export function tmpDir(prefix = "gymrl-torch-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A random model saved as a checkpoint; returns the directory and the model. */
export function randomCheckpoint(kernels: Kernels, overrides: Partial<ModelConfig> = {}, seed = 7, scale = 0.3): { dir: string; model: Model } {
  const model = new Model(tinyConfig(overrides), { kernels });
  randomizeParams(model, seed, scale);
  const dir = join(tmpDir(), "init");
  saveCheckpoint(dir, model);
  return { dir, model };
}

/**
 * S sequences of random tokens drawn from `ids` (plus an id outside the vocabulary now and then),
 * a prompt of `prompt` tokens each, then generated tokens with masks, advantages per sequence, and
 * generation / prev / reference logprobs near `around` (the policy's own, when given).
 */
export function randomTrainBatch(seed: number, ids: number[], lens: number[], prompt: number, around?: Float64Array): TrainBatch {
  const rng = new Rng(seed);
  const offs = [0];
  for (const l of lens) offs.push(offs[offs.length - 1] + l);
  const N = offs[offs.length - 1];
  const tokens = new Int32Array(N);
  for (let t = 0; t < N; t++) tokens[t] = rng.uniform() < 0.05 ? 100_000 : ids[rng.int(ids.length)];
  const tokenMask = new Float64Array(N);
  const advantages = new Float64Array(N);
  lens.forEach((l, s) => {
    const a = rng.normal();
    for (let t = offs[s] + prompt; t < offs[s + 1]; t++) {
      tokenMask[t] = 1;
      advantages[t] = a;
    }
  });
  const near = (sd: number) => Float64Array.from({ length: N }, (_, t) => (tokenMask[t] ? (around ? around[t] : -2) + sd * rng.normal() : 0));
  return {
    tokens,
    seqOffsets: Int32Array.from(offs),
    tokenMask,
    sampleMask: new Float64Array(lens.length).fill(1),
    generationLogprobs: near(0.05),
    prevLogprobs: near(0.02),
    refLogprobs: near(0.3),
    advantages,
  };
}
