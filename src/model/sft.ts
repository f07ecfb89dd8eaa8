/**
 * Supervised fine-tuning over token sequences with a loss mask: the training loop behind
 * `gymrl sft`, independent of tokenizers and chat templates (sft/chat-examples.ts renders chats into
 * SftExamples). Loss is the mean negative log-likelihood over masked target tokens of a step.
 */
import type { FloatArray } from "../tensor/kernels.ts";
import type { Model, PackedBatch } from "./model.ts";
import { AdamW, type AdamWConfig, type LrSchedule, learningRate } from "./optimizer.ts";
import { allocFloat } from "./params.ts";
import { Rng } from "./rng.ts";

/** One training sequence: tokenizer ids, and whether each token is trained on (predicted). */
export interface SftExample {
  tokens: number[];
  /** mask[i] = true: token i is a target (e.g. an assistant token); mask[0] is ignored */
  mask: boolean[];
}

export interface SftHyper extends LrSchedule {
  /** tokens per optimizer step (sequences are packed up to this many) */
  batchTokens: number;
  seed: number;
  adamw: Partial<AdamWConfig>;
  /** evaluate held-out loss every this many steps (and at the end); 0 = only at the end */
  evalEvery: number;
}

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens: number;
  target_tokens: number;
  tokens_per_s: number;
  elapsed_s: number;
  eta_s: number;
  eval_loss?: number;
}

/** Packs examples into one batch; targets outside the mask are -1. Long examples are cut to maxLen. */
export function packExamples(examples: SftExample[], maxLen: number): PackedBatch {
  const seqs = examples.map((e) => ({ tokens: e.tokens.slice(0, maxLen), mask: e.mask.slice(0, maxLen) }));
  const n = seqs.reduce((a, s) => a + s.tokens.length, 0);
  const tokens = new Int32Array(n);
  const targets = new Int32Array(n).fill(-1);
  const cuSeqlens = new Int32Array(seqs.length + 1);
  let o = 0;
  seqs.forEach((s, i) => {
    for (let t = 0; t < s.tokens.length; t++) {
      tokens[o + t] = s.tokens[t];
      if (t + 1 < s.tokens.length && s.mask[t + 1]) targets[o + t] = s.tokens[t + 1];
    }
    o += s.tokens.length;
    cuSeqlens[i + 1] = o;
  });
  return { tokens, targets, cuSeqlens };
}

/** Groups examples (in the given order) into batches of at most batchTokens tokens each. */
export function batchExamples(examples: SftExample[], batchTokens: number, maxLen: number): PackedBatch[] {
  const out: PackedBatch[] = [];
  let cur: SftExample[] = [];
  let curTokens = 0;
  for (const e of examples) {
    const len = Math.min(e.tokens.length, maxLen);
    if (cur.length > 0 && curTokens + len > batchTokens) {
      out.push(packExamples(cur, maxLen));
      cur = [];
      curTokens = 0;
    }
    cur.push(e);
    curTokens += len;
  }
  if (cur.length > 0) out.push(packExamples(cur, maxLen));
  return out;
}

function countTargets(b: PackedBatch): number {
  let c = 0;
  for (let i = 0; i < b.targets.length; i++) if (b.targets[i] >= 0) c++;
  return c;
}

/** Mean NLL over the masked targets of examples (no gradient). */
export function evalLoss(model: Model, examples: SftExample[], batchTokens: number): number {
  let sum = 0;
  let count = 0;
  for (const b of batchExamples(examples, batchTokens, model.dims.maxPos)) {
    const { logp } = model.forward(b);
    for (let i = 0; i < b.targets.length; i++)
      if (b.targets[i] >= 0) {
        sum -= logp[i];
        count++;
      }
  }
  return count > 0 ? sum / count : NaN;
}

/** An infinite stream of batches: shuffle each epoch (seeded), then pack. */
class BatchStream {
  private queue: PackedBatch[] = [];
  private readonly rng: Rng;
  constructor(
    private readonly examples: SftExample[],
    private readonly batchTokens: number,
    private readonly maxLen: number,
    seed: number,
  ) {
    if (examples.length === 0) throw new Error("SFT needs at least one training example");
    this.rng = new Rng(seed);
  }
  next(): PackedBatch {
    if (this.queue.length === 0) {
      const order = this.rng.shuffle([...this.examples]);
      this.queue = batchExamples(order, this.batchTokens, this.maxLen).reverse();
    }
    return this.queue.pop()!;
  }
}

export interface SftRun {
  optimizer: AdamW;
  /** steps already taken (when resuming): the batch stream skips the batches those steps used */
  startStep?: number;
  /** stop after the step that brings training time to this many seconds (a time budget) */
  maxSeconds?: number;
  /** called after every step with its metrics (eval_loss set on eval steps) */
  onStep?: (m: StepMetrics) => void;
}

/** Trains model on train for hyper.totalSteps steps; returns the last step's metrics. */
export function trainSft(model: Model, train: SftExample[], heldOut: SftExample[], hyper: SftHyper, run: SftRun): StepMetrics {
  const stream = new BatchStream(train, hyper.batchTokens, model.dims.maxPos, hyper.seed);
  const start = run.startStep ?? 0;
  // a resumed run sees the batches an uninterrupted one would have (the stream is seeded)
  for (let i = 0; i < start; i++) stream.next();
  const t0 = performance.now();
  let tokensSeen = 0;
  let dlogp: FloatArray = allocFloat(model.dtype, 0);
  let last: StepMetrics | null = null;
  const maxSeconds = run.maxSeconds ?? Infinity;
  for (let step = start; step < hyper.totalSteps; step++) {
    const batch = stream.next();
    const n = batch.tokens.length;
    const targets = countTargets(batch);
    // forward, loss = −mean logp over targets, backward
    const { logp } = model.forward(batch);
    if (dlogp.length < n) dlogp = allocFloat(model.dtype, n);
    let loss = 0;
    const scale = targets > 0 ? 1 / targets : 0;
    for (let i = 0; i < n; i++) {
      const on = batch.targets[i] >= 0;
      if (on) loss -= logp[i];
      dlogp[i] = on ? -scale : 0;
    }
    loss *= scale;
    model.zeroGrad();
    model.backward(dlogp.subarray(0, n));
    const lr = learningRate(step, hyper);
    const { gradNorm } = run.optimizer.step(model, lr);
    // timing and logging
    tokensSeen += n;
    const elapsed = (performance.now() - t0) / 1000;
    const done = step + 1 - start;
    const m: StepMetrics = {
      step: step + 1,
      loss,
      lr,
      grad_norm: gradNorm,
      tokens: n,
      target_tokens: targets,
      tokens_per_s: tokensSeen / elapsed,
      elapsed_s: elapsed,
      eta_s: Math.min((elapsed / done) * (hyper.totalSteps - step - 1), Math.max(0, maxSeconds - elapsed)),
    };
    const isLast = step + 1 === hyper.totalSteps || elapsed >= maxSeconds;
    if (heldOut.length > 0 && (isLast || (hyper.evalEvery > 0 && (step + 1) % hyper.evalEvery === 0)))
      m.eval_loss = evalLoss(model, heldOut, hyper.batchTokens);
    run.onStep?.(m);
    last = m;
    if (isLast) break;
  }
  if (!last) throw new Error(`nothing to train: start step ${start} ≥ total steps ${hyper.totalSteps}`);
  return last;
}
