/**
 * The embedded `PolicyTrainer`: the GRPO side of the model. It scores packed token batches
 * (`logprobs`, the policy's prev logprobs and the reference's), takes optimizer steps on the clipped
 * PG loss (`trainStep`), and saves / loads its weights and optimizer. Not the loss (loss.ts), not the
 * loop (loop.ts), not generation (src/engine).
 *
 * Alignment. GRPO arrays are token-aligned: entry t is log p(tokens[t] | tokens[<t]) and a sequence's
 * first token has none (0). The model is row-aligned: row i scores the next token. So
 *
 *   grpo logprob[t] = model logp[t - 1]        dLoss/dlogp[i] = dLoss/dcurr[i + 1]
 *
 * within each sequence.
 *
 * Refit. The optimizer step is the only write to the weights, and it runs through `commit`: with a
 * colocated engine sharing the parameter buffer, `commit` is
 * `(write) => engine.updateWeights({ kind: "shared", write })`, so the engine is parked between two
 * decode steps while the weights change and comes back under policy version + 1 (in-flight requests
 * continue on the new weights, as vLLM's in-flight updates). Without an engine, `commit` just writes.
 */
import type { ClippedPgLossConfig } from "./defaults.ts";
import type { PackedSequences } from "./batch.ts";
import { clippedPgLoss, type PgLossMetrics } from "./loss.ts";
import { loadCheckpoint, saveCheckpoint, type TrainerState } from "../model/checkpoint.ts";
import type { Model, PackedBatch } from "../model/model.ts";
import { AdamW, type AdamWConfig } from "../model/optimizer.ts";

// ------------------------------------------------------------------------------------------------
// batches

/** S sequences end to end (N tokens): what the trainer scores. */
export interface TokenBatch {
  /** (N,) tokenizer ids. */
  tokens: Int32Array;
  /** (S+1,) sequence offsets into tokens. */
  seqOffsets: Int32Array;
}

/** What one optimizer step reads: the packed tokens plus the loss's per-token inputs. */
export interface TrainBatch extends TokenBatch, PackedSequences {
  seqOffsets: Int32Array;
  /** (N,) 1 on sampled tokens. */
  tokenMask: Float64Array;
  /** (S,) 0 drops a sequence from the loss. */
  sampleMask: Float64Array;
  /** (N,) the sampler's logprobs. */
  generationLogprobs: Float64Array;
  /** (N,) the trainer's logprobs before this update; absent: taken from this step's own forward. */
  prevLogprobs?: Float64Array;
  /** (N,) the reference policy's logprobs (KL penalty). */
  refLogprobs?: Float64Array;
  /** (N,) per-token advantages. */
  advantages: Float64Array;
}

export interface Scored {
  /** (N,) token-aligned log p(tokens[t] | tokens[<t]); 0 at each sequence's first token. */
  logprobs: Float64Array;
  /** (N,) entropy of the distribution tokens[t] was drawn from; 0 at each sequence's first token. */
  entropy: Float64Array;
}

export interface TrainStepOptions {
  lr: number;
}

export interface TrainStepResult {
  metrics: PgLossMetrics;
  gradNorm: number;
  lr: number;
  /** (N,) the logprobs of this step's forward (before the update). */
  currLogprobs: Float64Array;
  /** seconds in forward + backward, and in the optimizer step / refit. */
  computeS: number;
  commitS: number;
}

/**
 * The trainer seam: what the GRPO loop asks of a trainer. Every call may cross a process (the PyTorch
 * worker under torchrun), so every call is async. Implementations: `EmbeddedTrainer` (here, in
 * process) and the PyTorch worker's client (`torch-trainer/`).
 */
export interface PolicyTrainer {
  /** Parameter count, for logs. */
  readonly numParams: number;
  /** One line for logs: where and how it computes, e.g. "embedded (native kernels)". */
  readonly description: string;
  logprobs(batch: TokenBatch): Promise<Scored>;
  /** Forward + backward on the GRPO loss, then one optimizer step (its write goes through the refit path). */
  trainStep(batch: TrainBatch, loss: Partial<ClippedPgLossConfig>, opts: TrainStepOptions): Promise<TrainStepResult>;
  /** Weights + optimizer + state as an HF checkpoint directory (atomic). */
  save(dir: string, state: TrainerState): Promise<void>;
  /** Restores weights and optimizer; returns the saved state. The weights reach the engine through the refit path. */
  load(dir: string): Promise<TrainerState | null>;
  /** Writes the current weights alone as an HF safetensors directory (atomic), for an engine to load; returns it. */
  exportCheckpoint(dir: string): Promise<string>;
  close(): Promise<void>;
}

/** Runs an optimizer step's write; resolves when the new weights are live (e.g. the new policy version). */
export type Commit = (write: () => void) => Promise<unknown>;

export interface EmbeddedTrainerOptions {
  model: Model;
  optimizer?: AdamW;
  adamw?: Partial<AdamWConfig>;
  /** Tokens per forward/backward micro-batch (whole sequences; one longer sequence goes alone). Default 4096. */
  microBatchTokens?: number;
  /** How the optimizer step reaches the weights (see the file comment). Default: write directly. */
  commit?: Commit;
  /**
   * The sampling temperature of the rollouts (default 1): logprobs and entropy are of
   * softmax(logits / T), the distribution the engine sampled from, as NeMo RL scores them.
   */
  temperature?: number;
}

// ------------------------------------------------------------------------------------------------
// the embedded trainer

export class EmbeddedTrainer implements PolicyTrainer {
  readonly model: Model;
  readonly optimizer: AdamW;
  readonly microBatchTokens: number;
  readonly temperature: number;
  private readonly commit: Commit;
  private dlogp: Float32Array = new Float32Array(0);

  constructor(opts: EmbeddedTrainerOptions) {
    this.model = opts.model;
    this.optimizer = opts.optimizer ?? new AdamW(opts.model, opts.adamw);
    this.microBatchTokens = opts.microBatchTokens ?? 4096;
    this.commit = opts.commit ?? (async (write) => write());
    this.temperature = opts.temperature ?? 1;
  }

  get numParams(): number {
    return this.model.numParams;
  }

  get description(): string {
    return `embedded (${this.model.kernels.name} kernels)`;
  }

  async logprobs(batch: TokenBatch): Promise<Scored> {
    return this.logprobsSync(batch);
  }

  /** `logprobs` without the promise, for in-process callers (tests, finite differences). */
  logprobsSync(batch: TokenBatch): Scored {
    const N = batch.tokens.length;
    const out: Scored = { logprobs: new Float64Array(N), entropy: new Float64Array(N) };
    for (const [s0, s1] of microBatches(batch.seqOffsets, this.microBatchTokens)) {
      const { packed, base } = packRange(batch, s0, s1);
      const { logp, entropy } = this.model.forward(packed, this.temperature);
      scatterShifted(out, logp, entropy, packed, base);
    }
    return out;
  }

  async trainStep(batch: TrainBatch, loss: Partial<ClippedPgLossConfig>, opts: TrainStepOptions): Promise<TrainStepResult> {
    const t0 = performance.now();
    const N = batch.tokens.length;
    const S = batch.seqOffsets.length - 1;
    // global normalisers, so the micro-batch losses add up to the batch's
    let globalValidToks = 0;
    for (let s = 0; s < S; s++)
      for (let t = batch.seqOffsets[s]; t < batch.seqOffsets[s + 1]; t++) globalValidToks += batch.tokenMask[t] * batch.sampleMask[s];
    let globalValidSeqs = 0;
    for (let s = 0; s < S; s++) globalValidSeqs += batch.sampleMask[s];

    const curr: Scored = { logprobs: new Float64Array(N), entropy: new Float64Array(N) };
    this.model.zeroGrad();
    for (const [s0, s1] of microBatches(batch.seqOffsets, this.microBatchTokens)) {
      const { packed, base } = packRange(batch, s0, s1);
      const n = packed.tokens.length;
      const { logp, entropy } = this.model.forward(packed, this.temperature);
      scatterShifted(curr, logp, entropy, packed, base);
      // the loss over this micro-batch's tokens, normalised globally
      const sl = (a: Float64Array | undefined) => a?.subarray(base, base + n);
      const currMb = curr.logprobs.subarray(base, base + n);
      const { dCurrLogprobs } = clippedPgLoss(
        {
          seqOffsets: Int32Array.from(packed.cuSeqlens),
          tokenMask: sl(batch.tokenMask)!,
          sampleMask: batch.sampleMask.subarray(s0, s1),
          currLogprobs: currMb,
          prevLogprobs: sl(batch.prevLogprobs) ?? currMb,
          generationLogprobs: sl(batch.generationLogprobs)!,
          refLogprobs: sl(batch.refLogprobs),
          advantages: sl(batch.advantages)!,
          globalValidToks,
          globalValidSeqs,
        },
        loss,
      );
      // token-aligned gradient → row-aligned: row i scored token i + 1
      if (this.dlogp.length < n) this.dlogp = new Float32Array(n);
      const dlogp = this.dlogp.subarray(0, n);
      dlogp.fill(0);
      for (let s = 0; s < s1 - s0; s++) {
        const a = packed.cuSeqlens[s];
        const b = packed.cuSeqlens[s + 1];
        for (let i = a; i + 1 < b; i++) dlogp[i] = dCurrLogprobs[i + 1];
      }
      this.model.backward(dlogp);
      // let this thread's HTTP (the OpenAI server, rollouts in flight) run between micro-batches:
      // async GRPO keeps generating while the trainer computes
      await new Promise<void>((r) => setImmediate(r));
    }
    // metrics over the whole batch at once (the per-micro-batch calls above only give gradients)
    const { metrics } = clippedPgLoss(
      {
        seqOffsets: batch.seqOffsets,
        tokenMask: batch.tokenMask,
        sampleMask: batch.sampleMask,
        currLogprobs: curr.logprobs,
        prevLogprobs: batch.prevLogprobs ?? curr.logprobs,
        generationLogprobs: batch.generationLogprobs,
        refLogprobs: batch.refLogprobs,
        advantages: batch.advantages,
        entropy: curr.entropy,
      },
      loss,
    );
    const t1 = performance.now();
    let gradNorm = 0;
    await this.commit(() => {
      gradNorm = this.optimizer.step(this.model, opts.lr).gradNorm;
    });
    const t2 = performance.now();
    return { metrics, gradNorm, lr: opts.lr, currLogprobs: curr.logprobs, computeS: (t1 - t0) / 1000, commitS: (t2 - t1) / 1000 };
  }

  /** The current weights (a view of the live buffer: copy to keep). */
  exportWeights(): Float32Array {
    return this.model.params.flat as Float32Array;
  }

  async save(dir: string, state: TrainerState): Promise<void> {
    saveCheckpoint(dir, this.model, this.optimizer, state);
  }

  async exportCheckpoint(dir: string): Promise<string> {
    // weights and config only: an engine reloading weights needs no tokenizer files (saves ~10 MB per refit)
    saveCheckpoint(dir, this.model, undefined, undefined, { auxFrom: null });
    return dir;
  }

  async close(): Promise<void> {}

  /**
   * Loads weights and optimizer state; returns the saved state. The weight write goes through
   * `commit`, like an optimizer step: a colocated engine reading this buffer must pause for it, bump
   * its policy version and drop prefix-cache K/V computed on the old weights.
   */
  async load(dir: string): Promise<TrainerState | null> {
    const ck = loadCheckpoint(dir, { kernels: this.model.kernels, dtype: this.model.dtype });
    if (ck.model.numParams !== this.model.numParams) throw new Error(`checkpoint ${dir} has ${ck.model.numParams} parameters; the trainer's model has ${this.model.numParams}`);
    await this.commit(() => this.model.params.flat.set(ck.model.params.flat));
    if (ck.optimizer) {
      this.optimizer.m.set(ck.optimizer.m);
      this.optimizer.v.set(ck.optimizer.v);
      this.optimizer.t = ck.optimizer.t;
    }
    return ck.state;
  }
}

// ------------------------------------------------------------------------------------------------
// packing helpers

/** [s0, s1) sequence ranges of at most maxTokens tokens each (a longer sequence goes alone). */
export function microBatches(seqOffsets: ArrayLike<number>, maxTokens: number): [number, number][] {
  const S = seqOffsets.length - 1;
  const out: [number, number][] = [];
  let s0 = 0;
  for (let s = 0; s < S; s++) {
    if (s > s0 && seqOffsets[s + 1] - seqOffsets[s0] > maxTokens) {
      out.push([s0, s]);
      s0 = s;
    }
  }
  if (S > s0) out.push([s0, S]);
  return out;
}

/** Sequences [s0, s1) as a model batch (row i's target: the next token of its sequence). */
function packRange(batch: TokenBatch, s0: number, s1: number): { packed: PackedBatch; base: number } {
  const base = batch.seqOffsets[s0];
  const end = batch.seqOffsets[s1];
  const tokens = batch.tokens.slice(base, end);
  const targets = new Int32Array(end - base).fill(-1);
  const cuSeqlens = new Int32Array(s1 - s0 + 1);
  for (let s = s0; s < s1; s++) {
    const a = batch.seqOffsets[s] - base;
    const b = batch.seqOffsets[s + 1] - base;
    for (let i = a; i + 1 < b; i++) targets[i] = tokens[i + 1];
    cuSeqlens[s - s0 + 1] = b;
  }
  return { packed: { tokens, targets, cuSeqlens }, base };
}

/** Row-aligned model outputs → token-aligned arrays at [base, base + n). */
function scatterShifted(out: Scored, logp: ArrayLike<number>, entropy: ArrayLike<number>, packed: PackedBatch, base: number): void {
  const S = packed.cuSeqlens.length - 1;
  for (let s = 0; s < S; s++) {
    const a = packed.cuSeqlens[s];
    const b = packed.cuSeqlens[s + 1];
    out.logprobs[base + a] = 0;
    out.entropy[base + a] = 0;
    for (let t = a + 1; t < b; t++) {
      out.logprobs[base + t] = logp[t - 1];
      out.entropy[base + t] = entropy[t - 1];
    }
  }
}
