/**
 * `TorchTrainer`: the PolicyTrainer seam over the PyTorch worker (python/gymrl_torch). It starts the
 * ranks (launcher.ts), then every call is one HTTP request to rank 0's control API (wire.ts), which
 * broadcasts it to the other ranks. Metrics are computed here from the worker's logprobs with the
 * same TypeScript loss the embedded trainer uses, so both trainers report identical metric keys.
 *
 * Failure handling: every call races the request (with a per-call timeout) against the ranks'
 * exits. A rank that dies fails the call at once with its rank, how it ended and its last log lines
 * (the other ranks are then stopped: they cannot finish a collective without it); a call that
 * outlives its timeout fails naming the call and the ranks' last lines. Nothing waits forever.
 */
import type { ClippedPgLossConfig } from "../defaults.ts";
import { clippedPgLoss } from "../loss.ts";
import type { PolicyTrainer, Scored, TokenBatch, TrainBatch, TrainStepOptions, TrainStepResult } from "../trainer.ts";
import type { TrainerState } from "../../model/checkpoint.ts";
import { type RankGroup, type ReadyInfo, type TorchLaunchOptions, type TorchPython, TorchWorkerError, launchRanks } from "./launcher.ts";
import { decodeFloat32, decodeFloat64, tokenBatchToWire, trainBatchToWire, type WireError } from "./wire.ts";

export interface TorchTrainerOptions extends TorchLaunchOptions {
  /** seconds one control call may take before the worker is declared hung (default 600) */
  callTimeoutS?: number;
}

export interface ForwardBackwardResult extends Scored {
  loss: number;
  forwardBackwardS: number;
}

export class TorchTrainer implements PolicyTrainer {
  readonly numParams: number;
  readonly description: string;
  /** the interpreter the ranks run, and why it was chosen */
  readonly python: TorchPython;
  private readonly base: string;
  private closed = false;

  private constructor(
    private readonly group: RankGroup,
    readonly ready: ReadyInfo,
    python: TorchPython,
    private readonly callTimeoutS: number,
  ) {
    this.base = `http://127.0.0.1:${ready.port}`;
    this.numParams = ready.num_params;
    this.description = `${ready.description}, ${python.python} (${python.source})`;
    this.python = python;
  }

  /** Starts the ranks; resolves once rank 0 serves the control API. */
  static async start(opts: TorchTrainerOptions): Promise<TorchTrainer> {
    const { group, ready, python } = await launchRanks(opts);
    return new TorchTrainer(group, ready, python, opts.callTimeoutS ?? 600);
  }

  // ----------------------------------------------------------------------------------------------
  // PolicyTrainer

  async logprobs(batch: TokenBatch): Promise<Scored> {
    const r = await this.call("POST", "/forward", tokenBatchToWire(batch));
    return { logprobs: decodeFloat64(r.logprobs, "logprobs"), entropy: decodeFloat64(r.entropy, "entropy") };
  }

  async trainStep(batch: TrainBatch, loss: Partial<ClippedPgLossConfig>, opts: TrainStepOptions): Promise<TrainStepResult> {
    const r = await this.call("POST", "/train_step", { ...trainBatchToWire(batch, loss), lr: opts.lr });
    const curr = decodeFloat64(r.logprobs, "logprobs");
    const entropy = decodeFloat64(r.entropy, "entropy");
    return {
      metrics: this.metrics(batch, loss, curr, entropy),
      gradNorm: num(r.grad_norm),
      lr: opts.lr,
      currLogprobs: curr,
      computeS: num(r.forward_backward_s),
      commitS: num(r.optim_step_s),
    };
  }

  async save(dir: string, state: TrainerState): Promise<void> {
    await this.call("POST", "/save", { dir, state });
  }

  async load(dir: string): Promise<TrainerState | null> {
    const r = await this.call("POST", "/load", { dir });
    return (r.state as TrainerState | null) ?? null;
  }

  async exportCheckpoint(dir: string): Promise<string> {
    const r = await this.call("POST", "/export", { dir });
    return String(r.dir);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.group.closing = true;
    let asked = false;
    if (!this.group.firstDeath) {
      try {
        await this.request("POST", "/shutdown", {}, 3);
        asked = true;
      } catch {
        /* hung or gone: signalled below */
      }
    }
    if (!asked) this.group.killAll("SIGTERM");
    await this.group.waitAll(asked ? 10 : 5); // then SIGKILL whatever is left
  }

  // ----------------------------------------------------------------------------------------------
  // the finer-grained calls (Tinker's forward_backward / optim_step), and a debug gradient dump

  async forwardBackward(batch: TrainBatch, loss: Partial<ClippedPgLossConfig>): Promise<ForwardBackwardResult> {
    const r = await this.call("POST", "/forward_backward", trainBatchToWire(batch, loss));
    return {
      loss: num(r.loss),
      logprobs: decodeFloat64(r.logprobs, "logprobs"),
      entropy: decodeFloat64(r.entropy, "entropy"),
      forwardBackwardS: num(r.forward_backward_s),
    };
  }

  async optimStep(lr: number): Promise<{ gradNorm: number; step: number }> {
    const r = await this.call("POST", "/optim_step", { lr });
    return { gradNorm: num(r.grad_norm), step: num(r.step) };
  }

  async zeroGrad(): Promise<void> {
    await this.call("POST", "/zero_grad", {});
  }

  /** The accumulated gradient, flat in gymrl's parameter layout (Model.params.flat order). */
  async grads(): Promise<Float32Array> {
    const r = await this.call("GET", "/debug/grads");
    return decodeFloat32(r.grads, "grads");
  }

  async health(): Promise<Record<string, unknown>> {
    return this.call("GET", "/health", undefined, 30);
  }

  /** The last log lines of every rank (for reports). */
  lastLines(): string {
    return this.group.lastLines(null);
  }

  /** The worker processes' ids by rank (-1: a torchrun agent). */
  pids(): Map<number, number> {
    return new Map(this.group.procs.map((p) => [p.rank, p.child.pid ?? -1]));
  }

  // ----------------------------------------------------------------------------------------------

  private metrics(batch: TrainBatch, loss: Partial<ClippedPgLossConfig>, curr: Float64Array, entropy: Float64Array) {
    return clippedPgLoss(
      {
        seqOffsets: batch.seqOffsets,
        tokenMask: batch.tokenMask,
        sampleMask: batch.sampleMask,
        currLogprobs: curr,
        prevLogprobs: batch.prevLogprobs ?? curr,
        generationLogprobs: batch.generationLogprobs,
        refLogprobs: batch.refLogprobs,
        advantages: batch.advantages,
        entropy,
      },
      loss,
    ).metrics;
  }

  /** One control call, failing fast on a dead rank and after the call timeout. */
  private async call(method: "GET" | "POST", path: string, body?: unknown, timeoutS = this.callTimeoutS): Promise<Record<string, unknown>> {
    if (this.closed) throw new TorchWorkerError(`torch worker: ${path} after close()`, null);
    if (this.group.firstDeath) throw this.group.firstDeath;
    return Promise.race([this.request(method, path, body, timeoutS), this.group.died]);
  }

  private async request(method: string, path: string, body: unknown, timeoutS: number): Promise<Record<string, unknown>> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: body === undefined ? undefined : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutS * 1000),
      });
    } catch (e) {
      const err = e as Error;
      if (err.name === "TimeoutError" || err.name === "AbortError")
        throw new TorchWorkerError(`torch worker: ${method} ${path} took longer than ${timeoutS}s (a rank may hang)\n${this.group.lastLines(null)}`, null);
      // connection refused / reset: most likely a rank went down; give its exit a moment to arrive
      throw (await this.deathWithin(2)) ?? new TorchWorkerError(`torch worker: ${method} ${path} failed: ${err.message}\n${this.group.lastLines(null)}`, null);
    }
    const text = await res.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new TorchWorkerError(`torch worker: ${method} ${path} → HTTP ${res.status} with a non-JSON body: ${text.slice(0, 200)}`, null);
    }
    if (res.ok) return json;
    const err = (json.error ?? {}) as Partial<WireError>;
    const msg = `torch worker: ${method} ${path} → HTTP ${res.status} ${err.type ?? ""}${err.field ? ` (field ${err.field})` : ""}: ${err.message ?? text}`;
    if (res.status >= 500) throw (await this.deathWithin(2)) ?? new TorchWorkerError(`${msg}\n${this.group.lastLines(null)}`, 0);
    throw new TorchRequestError(msg, res.status, err.field ?? null);
  }

  /** The first rank death, if one is reported within `s` seconds. */
  private async deathWithin(s: number): Promise<TorchWorkerError | null> {
    let timer: NodeJS.Timeout | undefined;
    const none = new Promise<null>((r) => (timer = setTimeout(() => r(null), s * 1000)));
    const dead = this.group.died.catch((e: TorchWorkerError) => e);
    const r = await Promise.race([dead, none]);
    clearTimeout(timer);
    return r;
  }
}

/** A 4xx from the control API: the request was wrong; the worker is fine and keeps serving. */
export class TorchRequestError extends Error {
  override readonly name = "TorchRequestError";
  constructor(
    message: string,
    readonly status: number,
    readonly field: string | null,
  ) {
    super(message);
  }
}

function num(x: unknown): number {
  return typeof x === "number" ? x : NaN;
}
