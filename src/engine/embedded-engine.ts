/**
 * The embedded generation engine: the model runs off the caller's thread, in a worker (worker.ts
 * → host.ts), so an HTTP server on the main thread stays responsive while it computes. The same
 * host can run in the caller's thread over a MessageChannel (`thread: "main"`) for tests and
 * debugging: identical scheduling and results, no worker.
 *
 * Weight sharing: pass `sharedParams` (a SharedArrayBuffer-backed Float32Array, e.g. from
 * `allocSharedParams`) and build the trainer's Model on the same array (`new Model(config,
 * { params })`). A refit is then `updateWeights({ kind: "shared", write: () => optimizer.step(...) })`:
 * the engine parks between two steps, `write` runs (the trainer writes in place), and the engine
 * resumes under version + 1. No copy, and no write can overlap a step.
 */
import { MessageChannel, Worker } from "node:worker_threads";

import type { ModelConfig } from "../model/config.ts";
import { serveEngine } from "./host.ts";
import type { EngineInit, FromHost, KernelPreference, Port, ToHost, UpdateOp } from "./protocol.ts";
import type { SchedulerStats } from "./scheduler.ts";
import type {
  GenerateOptions,
  GenerateRequest,
  GenerateResult,
  GeneratedToken,
  UpdatableGenerationEngine,
  WeightUpdate,
} from "./types.ts";

export interface EmbeddedEngineOptions {
  /** A checkpoint directory (config.json + model.safetensors); or give `config`. */
  modelDir?: string;
  config?: ModelConfig;
  /** Parameters, copied into the engine. */
  params?: Float32Array;
  /** Parameters on a SharedArrayBuffer, shared with the engine (no copy; see the file comment). */
  sharedParams?: Float32Array;
  /** Random-init seed when neither params nor sharedParams is given (default 0). */
  seed?: number;
  /** Longest prompt + generation; default the model's max_position_embeddings. */
  maxModelLen?: number;
  /** KV-cache slots, i.e. sequences decoded at once (default 64); more requests queue. */
  slots?: number;
  /** Rows per model step, decodes plus prefill chunk (default 256): bounds a prefill's stall. */
  maxBatchTokens?: number;
  /** "auto" (default): native when the addon loads, else the reference kernels. */
  kernels?: KernelPreference;
  /** Token ids that end every request, besides its stopTokenIds. */
  eosTokenIds?: readonly number[];
  /** Version of the initial weights (default 0). */
  policyVersion?: number;
  /** "worker" (default) or "main": the same host in this thread. */
  thread?: "worker" | "main";
  /**
   * Automatic prefix caching (default true; vLLM's enable_prefix_caching): keys and values of a
   * prompt prefix that another slot holds (a shared system prompt, a group's identical prompts, a
   * previous turn) are copied instead of recomputed. Results are the same either way.
   */
  prefixCaching?: boolean;
}

/** A zeroed Float32Array on a SharedArrayBuffer, to share parameters with an engine. */
export function allocSharedParams(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * Float32Array.BYTES_PER_ELEMENT));
}

const isShared = (a: Float32Array) => a.buffer instanceof SharedArrayBuffer;

/** Starts the engine and resolves once its model is built. */
export async function createEmbeddedEngine(opts: EmbeddedEngineOptions): Promise<EmbeddedEngine> {
  if (opts.sharedParams && !isShared(opts.sharedParams)) throw new Error("sharedParams must be backed by a SharedArrayBuffer (see allocSharedParams)");
  if (opts.sharedParams && opts.params) throw new Error("give params or sharedParams, not both");
  let model: EngineInit["model"];
  if (opts.modelDir !== undefined) {
    if (opts.config || opts.params || opts.sharedParams) throw new Error("give modelDir or config (+ params), not both");
    model = { kind: "checkpoint", dir: opts.modelDir };
  } else if (opts.config) {
    const params = opts.sharedParams ?? opts.params;
    model = { kind: "config", config: opts.config, ...(params ? { params } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}) };
  } else {
    throw new Error("createEmbeddedEngine needs modelDir or config");
  }
  const init: EngineInit = {
    model,
    kernels: opts.kernels ?? "auto",
    slots: opts.slots ?? 64,
    maxModelLen: opts.maxModelLen,
    maxBatchTokens: opts.maxBatchTokens,
    eosTokenIds: opts.eosTokenIds,
    policyVersion: opts.policyVersion,
    prefixCaching: opts.prefixCaching,
  };
  const transport = opts.thread === "main" ? inThread(init) : inWorker(init);
  const engine = new EmbeddedEngine(transport, opts.sharedParams !== undefined);
  await engine.ready;
  return engine;
}

interface Transport {
  port: Port<FromHost, ToHost>;
  shutdown(): Promise<void>;
}

function inWorker(init: EngineInit): Transport {
  // under tsx or vitest this module is .ts and the worker needs the tsx loader (worker-boot.mjs)
  const ts = import.meta.url.endsWith(".ts");
  const worker = new Worker(new URL(ts ? "./worker-boot.mjs" : "./worker.js", import.meta.url), { workerData: init });
  return {
    port: worker as unknown as Port<FromHost, ToHost>,
    shutdown: async () => void (await worker.terminate()),
  };
}

function inThread(init: EngineInit): Transport {
  const { port1, port2 } = new MessageChannel();
  serveEngine(port2 as unknown as Port<ToHost, FromHost>, init);
  return {
    port: port1 as unknown as Port<FromHost, ToHost>,
    shutdown: async () => {
      port1.close();
      port2.close();
    },
  };
}

interface PendingGenerate {
  request: GenerateRequest;
  resolve: (r: GenerateResult) => void;
  reject: (e: Error) => void;
  onToken?: (t: GeneratedToken) => void;
  detach: () => void;
}

interface PendingUpdate {
  resolve: (version: number) => void;
  reject: (e: Error) => void;
  write?: () => void | Promise<void>;
}

export class EmbeddedEngine implements UpdatableGenerationEngine {
  maxModelLen = 0;
  /** Kernels the host computes with: "native" or "reference". */
  kernels = "";
  private version = 0;
  private nextId = 1;
  private counters: SchedulerStats = { steps: 0, rows: 0, promptTokens: 0, cachedPromptTokens: 0, prefixLookupMs: 0 };
  private readonly gens = new Map<number, PendingGenerate>();
  private readonly updates = new Map<number, PendingUpdate>();
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  private onClosed: (() => void) | null = null;
  readonly ready: Promise<void>;

  constructor(
    private readonly transport: Transport,
    /** whether the host computes on a buffer shared with this thread */
    readonly shared: boolean,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      transport.port.on("message", (msg: FromHost) => {
        if (msg.type === "ready") {
          this.maxModelLen = msg.maxModelLen;
          this.version = msg.policyVersion;
          this.kernels = msg.kernels;
          resolve();
        } else if (msg.type === "init-error") {
          void transport.shutdown();
          reject(new Error(`embedded engine failed to start: ${msg.message}`));
        } else this.onMessage(msg);
      });
      const events = transport.port as unknown as { on(e: string, l: (x: unknown) => void): void };
      events.on("error", (e) => {
        reject(e as Error);
        this.fail(e as Error);
      });
      // a worker that dies fails everything pending (a MessagePort never emits "exit")
      events.on("exit", (code) => {
        if (!this.closing) this.fail(new Error(`the engine worker exited (code ${String(code)})`));
      });
    });
  }

  get policyVersion(): number {
    return this.version;
  }

  /** Requests queued or running. */
  get pending(): number {
    return this.gens.size;
  }

  /**
   * The host's counters (model passes, rows computed, prompt tokens and how many came from the
   * prefix cache) as of the last step that produced a token or finished a request.
   */
  get stats(): SchedulerStats {
    return { ...this.counters };
  }

  generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error("the engine is closed"));
    const { signal, onToken } = options;
    if (signal?.aborted) return Promise.resolve(this.abortedBeforeStart(request));
    const id = this.nextId++;
    return new Promise<GenerateResult>((resolve, reject) => {
      const onAbort = () => this.post({ type: "cancel", id });
      signal?.addEventListener("abort", onAbort, { once: true });
      const detach = () => signal?.removeEventListener("abort", onAbort);
      this.gens.set(id, { request, resolve, reject, onToken, detach });
      this.post({ type: "generate", id, request: plainRequest(request) });
    });
  }

  async updateWeights(update: WeightUpdate | Float32Array): Promise<number> {
    if (this.failure) throw this.failure;
    if (this.closing) throw new Error("the engine is closed");
    const u: WeightUpdate = update instanceof Float32Array ? { kind: "copy", params: update } : update;
    let op: UpdateOp;
    let write: (() => void | Promise<void>) | undefined;
    switch (u.kind) {
      case "shared":
        if (!this.shared) throw new Error('a "shared" update needs an engine created with sharedParams');
        write = u.write;
        op = write ? { kind: "pause" } : { kind: "bump" };
        break;
      case "swap":
        if (!isShared(u.params)) throw new Error('a "swap" update needs a SharedArrayBuffer-backed Float32Array');
        op = { kind: "swap", params: u.params };
        break;
      case "copy":
        op = { kind: "copy", params: u.params };
        break;
      case "checkpoint":
        op = { kind: "checkpoint", dir: u.dir };
        break;
    }
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.updates.set(id, { resolve, reject, write });
      this.post({ type: "update", id, op });
    });
  }

  /** Aborts whatever is running or queued (those resolve with "abort") and stops the host. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (!this.failure) {
        const closed = new Promise<void>((r) => (this.onClosed = r));
        this.post({ type: "close" });
        await closed;
      }
      await this.transport.shutdown();
    })();
    return this.closing;
  }

  // ----------------------------------------------------------------------------------------------

  private post(msg: ToHost): void {
    this.transport.port.postMessage(msg);
  }

  private onMessage(msg: FromHost): void {
    switch (msg.type) {
      case "step":
        this.counters = msg.stats;
        for (const [id, token] of msg.tokens) this.gens.get(id)?.onToken?.(token);
        for (const [id, result] of msg.done) {
          const g = this.gens.get(id);
          if (!g) continue;
          this.gens.delete(id);
          g.detach();
          g.resolve(result);
        }
        return;
      case "rejected": {
        const g = this.gens.get(msg.id);
        this.gens.delete(msg.id);
        g?.detach();
        g?.reject(new RangeError(msg.message));
        return;
      }
      case "paused":
        void this.runWrite(msg.id);
        return;
      case "updated": {
        this.version = Math.max(this.version, msg.version);
        const u = this.updates.get(msg.id);
        this.updates.delete(msg.id);
        u?.resolve(msg.version);
        return;
      }
      case "update-error": {
        const u = this.updates.get(msg.id);
        this.updates.delete(msg.id);
        u?.reject(new Error(`weight update failed: ${msg.message}`));
        return;
      }
      case "fatal":
        this.fail(new Error(msg.message));
        return;
      case "closed":
        this.onClosed?.();
        return;
      case "ready":
      case "init-error":
        return;
    }
  }

  /** The host is parked between steps: the trainer writes the shared weights now. */
  private async runWrite(id: number): Promise<void> {
    const u = this.updates.get(id);
    try {
      await u?.write?.();
    } catch (e) {
      this.updates.delete(id);
      this.post({ type: "resume", id, bump: false });
      u?.reject(e as Error);
      return;
    }
    this.post({ type: "resume", id, bump: true });
  }

  private fail(e: Error): void {
    this.failure = e;
    for (const g of this.gens.values()) g.reject(e);
    for (const u of this.updates.values()) u.reject(e);
    this.gens.clear();
    this.updates.clear();
    this.onClosed?.();
  }

  private abortedBeforeStart(request: GenerateRequest): GenerateResult {
    return {
      promptTokenIds: [...request.promptTokenIds],
      generationTokenIds: [],
      generationLogProbs: [],
      finishReason: "abort",
      policyVersion: this.version,
      policyVersions: [this.version],
      cachedPromptTokens: 0,
    };
  }
}

/** The request as plain data (readonly arrays may be typed arrays or proxies upstream). */
function plainRequest(r: GenerateRequest): GenerateRequest {
  return {
    promptTokenIds: Array.from(r.promptTokenIds),
    sampling: { ...r.sampling },
    maxTokens: r.maxTokens,
    stopTokenIds: Array.from(r.stopTokenIds),
    ...(r.topLogprobs !== undefined ? { topLogprobs: r.topLogprobs } : {}),
  };
}
