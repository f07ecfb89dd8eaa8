/**
 * AdamW with decoupled weight decay and global gradient-norm clipping, over the model's flat
 * parameter buffer (moments in the same layout), plus the learning-rate schedule.
 *
 * Weight decay applies to the projection matrices (q/k/v/o, gate/up/down) and an untied lm_head
 * only. Norm weights are scales around 1 (decaying them towards 0 fights the normalisation), the
 * model has no biases, and embeddings (so also a tied head) are left undecayed: rows of rare
 * tokens get few gradient steps and decay would shrink them towards 0 between uses.
 */
import type { FloatArray } from "../tensor/kernels.ts";
import type { Model } from "./model.ts";
import { allocFloat } from "./params.ts";

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** clip the global gradient L2 norm to this (0 or Infinity: no clipping) */
  gradClip: number;
}

export const defaultAdamW: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };

export interface StepStats {
  /** global gradient norm before clipping */
  gradNorm: number;
  lr: number;
}

export class AdamW {
  readonly cfg: AdamWConfig;
  /** first and second moments, laid out like the model's parameters */
  readonly m: FloatArray;
  readonly v: FloatArray;
  /** number of steps taken */
  t = 0;
  /** [offset, size, decay] runs of consecutive tensors with the same decay setting */
  private readonly runs: [number, number, boolean][] = [];

  constructor(model: Model, cfg: Partial<AdamWConfig> = {}) {
    this.cfg = { ...defaultAdamW, ...cfg };
    this.m = allocFloat(model.dtype, model.numParams);
    this.v = allocFloat(model.dtype, model.numParams);
    for (const s of model.specs) {
      const decay = s.kind === "matrix" || s.kind === "head";
      const last = this.runs[this.runs.length - 1];
      if (last && last[2] === decay && last[0] + last[1] === s.offset) last[1] += s.size;
      else this.runs.push([s.offset, s.size, decay]);
    }
  }

  /** One update from model.grads at learning rate lr. Does not zero the gradients. */
  step(model: Model, lr: number): StepStats {
    const K = model.kernels;
    const { beta1, beta2, eps, weightDecay, gradClip } = this.cfg;
    const grads = model.grads.flat;
    const gradNorm = Math.sqrt(K.sumSquares(grads, model.numParams));
    const scale = gradClip > 0 && Number.isFinite(gradClip) && gradNorm > gradClip ? gradClip / gradNorm : 1;
    this.t += 1;
    const bc1 = 1 - Math.pow(beta1, this.t);
    const bc2 = 1 - Math.pow(beta2, this.t);
    const params = model.params.flat;
    for (const [off, size, decay] of this.runs) {
      const end = off + size;
      K.adamw(
        params.subarray(off, end),
        grads.subarray(off, end),
        this.m.subarray(off, end),
        this.v.subarray(off, end),
        size,
        lr,
        beta1,
        beta2,
        eps,
        decay ? weightDecay : 0,
        bc1,
        bc2,
        scale,
      );
    }
    return { gradNorm, lr };
  }
}

export interface LrSchedule {
  /** peak learning rate */
  lr: number;
  /** linear warm-up steps from lr/warmup to lr */
  warmupSteps: number;
  /** total steps (cosine decays to minLrRatio·lr at this step) */
  totalSteps: number;
  schedule: "constant" | "cosine";
  /** floor of the cosine schedule, as a fraction of lr */
  minLrRatio: number;
  /**
   * Cosine only: decay over just the last decaySteps steps, holding lr until then
   * (warmup-stable-decay). 0 or absent: decay over everything after the warm-up.
   */
  decaySteps?: number;
}

/** Learning rate at step (0-based). */
export function learningRate(step: number, s: LrSchedule): number {
  // 1) linear warm-up
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  // 2) constant
  if (s.schedule === "constant") return s.lr;
  // 3) cosine from lr down to minLrRatio·lr over the remaining steps (or only the last decaySteps)
  const decayStart = s.decaySteps ? Math.max(s.warmupSteps, s.totalSteps - s.decaySteps) : s.warmupSteps;
  if (step < decayStart) return s.lr;
  const span = Math.max(1, s.totalSteps - decayStart);
  const progress = Math.min(1, (step - decayStart) / span);
  const minLr = s.lr * s.minLrRatio;
  return minLr + 0.5 * (s.lr - minLr) * (1 + Math.cos(Math.PI * progress));
}
