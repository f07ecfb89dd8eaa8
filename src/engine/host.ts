/**
 * The engine host: owns the Model, the KV cache (through the Scheduler) and the step loop, and
 * answers the client's messages (protocol.ts). It runs in the worker thread (worker.ts) or, for
 * tests and debugging, in the caller's thread over a MessageChannel: the same code either way.
 *
 * The loop runs one scheduler step, posts that step's tokens, then yields to the event loop, where
 * new requests, cancellations and updates arrive. So every one of them lands between two steps:
 * a request joins the next step, a cancelled one leaves before it, and weights change only there.
 * Updates: "pause" parks the loop until the client says "resume" (the trainer writes the shared
 * buffer meanwhile); the other kinds are applied by the host itself. Each bumps the version.
 */
import { loadModel } from "../model/checkpoint.ts";
import { Model } from "../model/model.ts";
import { getKernels, getNativeKernels, referenceKernels } from "../tensor/index.ts";
import type { Kernels } from "../tensor/kernels.ts";
import type { EngineInit, FromHost, KernelPreference, Port, ToHost, UpdateOp } from "./protocol.ts";
import { Scheduler, type SchedulerSink } from "./scheduler.ts";
import type { GenerateResult, GeneratedToken } from "./types.ts";

export function resolveKernels(pref: KernelPreference): Kernels {
  if (pref === "reference") return referenceKernels;
  if (pref === "native") {
    const k = getNativeKernels();
    if (!k) throw new Error("kernels: native was asked for but the native addon is unavailable (npm run build:native)");
    return k;
  }
  return getKernels();
}

function buildModel(init: EngineInit, kernels: Kernels): Model {
  const src = init.model;
  if (src.kind === "checkpoint") return loadModel(src.dir, { kernels });
  return new Model(src.config, { kernels, params: src.params, seed: src.seed });
}

const isShared = (a: Float32Array) => a.buffer instanceof SharedArrayBuffer;

/** Starts a host on `port`; it answers "ready" (or "init-error") first. */
export function serveEngine(port: Port<ToHost, FromHost>, init: EngineInit): void {
  let host: EngineHost;
  try {
    host = new EngineHost(port, init);
  } catch (e) {
    port.postMessage({ type: "init-error", message: (e as Error).message });
    return;
  }
  port.on("message", (msg) => host.onMessage(msg));
  port.postMessage({ type: "ready", maxModelLen: host.scheduler.maxModelLen, policyVersion: host.scheduler.version, kernels: host.kernelsName });
}

class EngineHost {
  readonly scheduler: Scheduler;
  readonly kernelsName: string;
  private readonly model: Model;
  private readonly kernels: Kernels;
  private readonly ops: { id: number; op: UpdateOp }[] = [];
  private readonly resumes = new Map<number, (bump: boolean) => void>();
  private running = false;
  private closed = false;
  // the current step's events, posted as one message
  private tokens: [number, GeneratedToken][] = [];
  private done: [number, GenerateResult][] = [];
  private readonly sink: SchedulerSink = {
    token: (id, t) => void this.tokens.push([id, t]),
    finish: (id, r) => void this.done.push([id, r]),
  };

  constructor(
    private readonly port: Port<ToHost, FromHost>,
    init: EngineInit,
  ) {
    this.kernels = resolveKernels(init.kernels);
    this.kernelsName = this.kernels === referenceKernels ? "reference" : "native";
    this.model = buildModel(init, this.kernels);
    const maxModelLen = init.maxModelLen ?? this.model.dims.maxPos;
    this.scheduler = new Scheduler(this.model, {
      slots: init.slots,
      maxModelLen,
      maxBatchTokens: init.maxBatchTokens,
      eosTokenIds: init.eosTokenIds,
      policyVersion: init.policyVersion,
      prefixCaching: init.prefixCaching,
    });
  }

  onMessage(msg: ToHost): void {
    if (this.closed) return;
    switch (msg.type) {
      case "generate":
        try {
          this.scheduler.submit(msg.id, msg.request);
        } catch (e) {
          this.port.postMessage({ type: "rejected", id: msg.id, message: (e as Error).message });
          return;
        }
        this.kick();
        return;
      case "cancel":
        // between steps by construction: this handler and step() share one thread
        if (this.scheduler.cancel(msg.id, this.sink)) this.flush();
        return;
      case "update":
        this.ops.push({ id: msg.id, op: msg.op });
        this.kick();
        return;
      case "resume":
        this.resumes.get(msg.id)?.(msg.bump);
        this.resumes.delete(msg.id);
        return;
      case "close":
        this.closed = true;
        this.scheduler.cancelAll(this.sink);
        this.flush();
        for (const resume of this.resumes.values()) resume(false);
        this.port.postMessage({ type: "closed" });
        return;
    }
  }

  /** Starts the step loop unless it is running. */
  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.loop().finally(() => (this.running = false));
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      while (this.ops.length > 0 && !this.closed) await this.apply(this.ops.shift()!);
      if (!this.scheduler.hasWork || this.closed) return;
      try {
        this.scheduler.step(this.sink);
      } catch (e) {
        this.port.postMessage({ type: "fatal", message: `engine step failed: ${(e as Error).stack ?? e}` });
        this.closed = true;
        return;
      }
      this.flush();
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  private flush(): void {
    if (this.tokens.length === 0 && this.done.length === 0) return;
    this.port.postMessage({ type: "step", tokens: this.tokens, done: this.done, stats: { ...this.scheduler.stats } });
    this.tokens = [];
    this.done = [];
  }

  /** Applies one weight update between steps; answers "updated" or "update-error". */
  private async apply({ id, op }: { id: number; op: UpdateOp }): Promise<void> {
    const model = this.model;
    try {
      switch (op.kind) {
        case "pause": {
          const bump = await new Promise<boolean>((resolve) => {
            this.resumes.set(id, resolve);
            this.port.postMessage({ type: "paused", id });
          });
          if (!bump) {
            this.port.postMessage({ type: "update-error", id, message: "the update was not applied" });
            return;
          }
          break;
        }
        case "bump":
          break;
        case "swap":
          if (!isShared(op.params)) throw new Error("a swap update needs a SharedArrayBuffer-backed Float32Array");
          model.setParams(op.params);
          break;
        case "copy":
          // a non-shared array arrived as a private copy already; a shared one is copied here
          model.setParams(isShared(op.params) ? Float32Array.from(op.params) : op.params);
          break;
        case "checkpoint": {
          const loaded = loadModel(op.dir, { kernels: this.kernels });
          const a = loaded.dims;
          const b = model.dims;
          const sameVocab = loaded.vocab.rowToId.length === model.vocab.rowToId.length && loaded.vocab.rowToId.every((x, i) => x === model.vocab.rowToId[i]);
          if (loaded.numParams !== model.numParams || a.c !== b.c || a.l !== b.l || a.f !== b.f || !sameVocab)
            throw new Error(`checkpoint ${op.dir} does not match the served model's architecture or vocabulary`);
          model.setParams(loaded.params.flat);
          break;
        }
      }
    } catch (e) {
      this.port.postMessage({ type: "update-error", id, message: (e as Error).message });
      return;
    }
    this.port.postMessage({ type: "updated", id, version: this.scheduler.bumpVersion() });
  }
}
