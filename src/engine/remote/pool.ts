/**
 * A pool of remote replicas (vLLM or SGLang servers, or `gymrl serve` processes speaking either
 * dialect) behind one UpdatableGenerationEngine.
 *
 * Routing: a request with a `sessionKey` goes to the replica its session used before (every turn of
 * one rollout on one replica, so later turns hit the prefix cache); a new session, or a request
 * without a key, goes to the replica with the fewest requests in flight. Sessions are remembered in
 * a bounded LRU map.
 *
 * Failures: an attempt that cannot reach its replica, times out (`requestTimeoutMs`), gets a 5xx,
 * or is aborted by the server (SGLang's pause) is sent again to another replica, as long as the
 * caller's signal allows; the HTTP request of the failed attempt is closed first, so the server
 * drops it and only one answer is ever returned. The replica is marked down and probed (GET /health)
 * until it answers; if the pool has pushed weights since it started, they are pushed to the
 * replica again before it takes requests. A 4xx or a response that is not the documented shape is
 * the caller's error, thrown at once with the replica and the field named.
 *
 * Versions: the pool counts weight updates. A sample is stamped with every version the pool was at
 * between sending the request and receiving its answer: exact when no update overlapped, and the
 * honest pair [v, v+1] when vLLM kept a request frozen across an update (`pause?mode=keep`). When
 * the server reports versions (SGLang's weight_version, which the pool sets to its own numbers),
 * those are used, and a replica reporting a version outside that window is serving stale weights:
 * it is marked down and the request retried elsewhere.
 *
 * Weight updates take a checkpoint directory: new requests wait, every replica is paused, loads the
 * directory and drops its cached prefixes, and resumes; then the version goes up by one.
 */
import { setMaxListeners } from "node:events";
import { resolve } from "node:path";
import type {
  GenerateOptions,
  GenerateRequest,
  GenerateResult,
  UpdatableGenerationEngine,
  WeightUpdate,
} from "../types.ts";
import { RemoteEngineError } from "./errors.ts";
import { type Dialect, type ReplicaClient, type ReplicaGeneration, normalizeBaseUrl } from "./replica.ts";
import { SglangClient } from "./sglang-client.ts";
import { VllmClient } from "./vllm-client.ts";

export interface RemoteEnginePoolOptions {
  dialect: Dialect;
  /** base URLs of the replicas (http://host:port, with or without /v1) */
  urls: readonly string[];
  /** vLLM's `model` field (the served model name); absent: the server's default */
  modelName?: string;
  /** the servers' API key (Authorization: Bearer), when they were started with one */
  apiKey?: string;
  /** context length; default: the smallest `max_model_len` the replicas report */
  maxModelLen?: number;
  /** limit of one attempt on one replica, ms (default 300 s); the caller's signal bounds the whole request */
  requestTimeoutMs?: number;
  /** how often a down replica is probed, ms (default 1000) */
  probeIntervalMs?: number;
  /** attempts per request before giving up, across replicas (default: 2 × replicas + 1) */
  maxAttempts?: number;
  /** how long a request waits for some replica to come back when all are down, ms (default requestTimeoutMs) */
  unavailableTimeoutMs?: number;
  /** version of the weights the replicas start with (default 0) */
  initialVersion?: number;
  /** sessions remembered for sticky routing (default 65536) */
  sessionCapacity?: number;
  /** timeout of pause / load / resume calls, ms (default 600 s) */
  controlTimeoutMs?: number;
  /** vLLM's pause mode during a weight update (default "keep"; see VllmClientOptions.pauseMode) */
  vllmPauseMode?: "keep" | "wait" | "abort";
  /** replica clients to use instead of the dialect's (tests) */
  clients?: readonly ReplicaClient[];
}

export interface ReplicaStats {
  url: string;
  up: boolean;
  inFlight: number;
  /** requests this replica answered */
  completed: number;
  /** attempts that failed on it (unreachable, timeout, 5xx, stale weights) */
  failures: number;
  /** sum of prompt tokens it reported served from its prefix cache */
  cachedPromptTokens: number;
  lastError: string | null;
}

class Replica {
  up = true;
  inFlight = 0;
  completed = 0;
  failures = 0;
  cachedPromptTokens = 0;
  lastError: string | null = null;
  probe: NodeJS.Timeout | null = null;
  constructor(readonly client: ReplicaClient) {}
}

/** Starts a pool: checks every replica (GET /v1/models) and learns the context length. */
export async function createRemoteEnginePool(opts: RemoteEnginePoolOptions): Promise<RemoteEnginePool> {
  if (opts.dialect !== "vllm" && opts.dialect !== "sglang") throw new Error(`dialect must be "vllm" or "sglang", got ${JSON.stringify(opts.dialect)}`);
  const clients =
    opts.clients ??
    opts.urls.map((u) => {
      const url = normalizeBaseUrl(u);
      const control = { controlTimeoutMs: opts.controlTimeoutMs, apiKey: opts.apiKey };
      return opts.dialect === "vllm" ? new VllmClient(url, { ...control, modelName: opts.modelName, pauseMode: opts.vllmPauseMode }) : new SglangClient(url, control);
    });
  if (clients.length === 0) throw new Error("a remote engine pool needs at least one replica URL (generation.urls)");
  const timeoutMs = Math.min(opts.requestTimeoutMs ?? 300_000, 30_000);
  const lens = await Promise.all(clients.map((c) => c.maxModelLen({ timeoutMs }).catch((e: unknown) => (e instanceof RemoteEngineError ? e : Promise.reject(e)))));
  const reachable = lens.filter((l): l is number => typeof l === "number");
  if (reachable.length === 0) {
    throw new Error(`no replica of the pool answered GET /v1/models:\n${lens.map((e) => `  ${(e as Error).message}`).join("\n")}`);
  }
  const pool = new RemoteEnginePool(clients, opts, opts.maxModelLen ?? Math.min(...reachable));
  lens.forEach((l, i) => {
    if (typeof l !== "number") pool.markDown(i, l as RemoteEngineError);
  });
  return pool;
}

export class RemoteEnginePool implements UpdatableGenerationEngine {
  private readonly replicas: Replica[];
  private version: number;
  /** the last checkpoint pushed, re-pushed to a replica that comes back */
  private lastDir: string | null = null;
  /** resolves when no weight update is running; new requests wait on it */
  private gate: Promise<void> = Promise.resolve();
  private openGate: () => void = () => {};
  /** weight updates asked for and not finished; the gate is closed while there are any */
  private pendingUpdates = 0;
  /** the version an update in progress is loading: replicas already resumed may be producing it */
  private syncing: number | null = null;
  /** serialises weight updates and re-pushes */
  private updateChain: Promise<unknown> = Promise.resolve();
  private readonly sessions = new Map<string, Replica>();
  private rotate = 0;
  private upWaiters: Array<() => void> = [];
  private closed = false;
  private readonly closeController = new AbortController();
  /** duration of the last weight update (pause → load → resume on every replica), ms */
  lastRefitMs = 0;
  /**
   * Answered requests, the time their answering attempt took as seen here, and the servers' own
   * time on them where the server reports it (SGLang's e2e_latency): the difference is the remote
   * path's overhead (HTTP, JSON, routing), bench:remote-engine's figure.
   */
  readonly timing = { requests: 0, clientMs: 0, timedRequests: 0, timedClientMs: 0, serverMs: 0 };

  constructor(
    clients: readonly ReplicaClient[],
    private readonly opts: RemoteEnginePoolOptions,
    readonly maxModelLen: number,
  ) {
    this.replicas = clients.map((c) => new Replica(c));
    // every request in flight listens on the pool's close signal
    setMaxListeners(0, this.closeController.signal);
    this.version = opts.initialVersion ?? 0;
  }

  get policyVersion(): number {
    return this.version;
  }

  get dialect(): Dialect {
    return this.opts.dialect;
  }

  get stats(): ReplicaStats[] {
    return this.replicas.map((r) => ({
      url: r.client.url,
      up: r.up,
      inFlight: r.inFlight,
      completed: r.completed,
      failures: r.failures,
      cachedPromptTokens: r.cachedPromptTokens,
      lastError: r.lastError,
    }));
  }

  /** The replica URL a session is pinned to, if any. */
  replicaOf(sessionKey: string): string | undefined {
    return this.sessions.get(sessionKey)?.client.url;
  }

  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    if (this.closed) throw new Error("the remote engine pool is closed");
    if (request.promptTokenIds.length === 0) throw new RangeError("promptTokenIds is empty");
    if (!(request.maxTokens >= 1)) throw new RangeError(`maxTokens must be at least 1, got ${request.maxTokens}`);
    const link = options.signal ? linked(options.signal, this.closeController.signal) : null;
    try {
      return await this.attempts(request, options, link?.signal ?? this.closeController.signal);
    } finally {
      link?.dispose();
    }
  }

  private async attempts(request: GenerateRequest, options: GenerateOptions, signal: AbortSignal): Promise<GenerateResult> {
    const maxAttempts = this.opts.maxAttempts ?? 2 * this.replicas.length + 1;
    const errors: string[] = [];
    for (let attempt = 1; ; attempt++) {
      if (this.pendingUpdates > 0) await untilOrAbort(this.gate, signal);
      if (signal.aborted) return abortedResult(request, this.version);
      const replica = await this.pick(options.sessionKey, signal);
      if (!replica) return abortedResult(request, this.version);
      const v0 = this.version;
      replica.inFlight++;
      const t0 = performance.now();
      let out: ReplicaGeneration;
      try {
        out = await replica.client.generate(request, { signal, timeoutMs: this.opts.requestTimeoutMs ?? 300_000, sessionKey: options.sessionKey });
      } catch (e) {
        if (!(e instanceof RemoteEngineError)) throw e;
        if (e.kind === "aborted" || signal.aborted) return abortedResult(request, v0);
        if (!e.replicaFault) throw e;
        this.markDown(this.replicas.indexOf(replica), e);
        errors.push(e.message);
        if (attempt >= maxAttempts) throw new RemoteEngineError(e.kind, replica.client.url, `giving up after ${attempt} attempts:\n  ${errors.join("\n  ")}`);
        continue;
      } finally {
        replica.inFlight--;
      }
      if (out.finishReason === "abort") {
        if (signal.aborted) return { ...out, policyVersion: v0, policyVersions: [v0] };
        // the server aborted it (SGLang's pause before a weight update): send it again, whole
        errors.push(`replica ${replica.client.url}: aborted by the server`);
        if (attempt >= maxAttempts) throw new RemoteEngineError("server", replica.client.url, `giving up after ${attempt} attempts:\n  ${errors.join("\n  ")}`);
        continue;
      }
      const v1 = Math.max(this.version, this.syncing ?? this.version);
      const window = range(v0, v1);
      let versions = window;
      if (out.reportedVersions && this.lastDir !== null) {
        // before the pool's first push the servers' labels are their own, not the pool's numbers
        const stale = out.reportedVersions.find((v) => v < v0 || v > v1);
        if (stale !== undefined) {
          const e = new RemoteEngineError("stale-weights", replica.client.url, `answered with weight version ${stale} while the pool was at ${v0 === v1 ? v0 : `${v0}..${v1}`}: it missed a weight update`);
          this.markDown(this.replicas.indexOf(replica), e);
          errors.push(e.message);
          if (attempt >= maxAttempts) throw e;
          continue;
        }
        versions = [...new Set(out.reportedVersions)].sort((a, b) => a - b);
      }
      replica.completed++;
      replica.cachedPromptTokens += out.cachedPromptTokens ?? 0;
      const ms = performance.now() - t0;
      this.timing.requests++;
      this.timing.clientMs += ms;
      if (out.serverMs !== undefined) {
        this.timing.timedRequests++;
        this.timing.timedClientMs += ms;
        this.timing.serverMs += out.serverMs;
      }
      const { reportedVersions: _, serverMs: __, ...result } = out;
      if (options.onToken) replayTokens(result, options);
      // one version: every token is known to be from it; several (an update landed mid-request): not per token
      const perToken = versions.length === 1 ? { generationPolicyVersions: result.generationTokenIds.map(() => versions[0]) } : {};
      return { ...result, policyVersion: versions[0], policyVersions: versions, ...perToken };
    }
  }

  async updateWeights(update: WeightUpdate | Float32Array): Promise<number> {
    if (update instanceof Float32Array || update.kind !== "checkpoint") {
      throw new Error("a remote engine pool takes new weights as a checkpoint directory: updateWeights({ kind: \"checkpoint\", dir })");
    }
    if (this.closed) throw new Error("the remote engine pool is closed");
    const dir = resolve(update.dir); // servers need an absolute path (vLLM's disk backend insists)
    // close the gate now, not when the update's turn comes: a request sent after this call must
    // not start under the old weights
    if (this.pendingUpdates++ === 0) this.gate = new Promise<void>((r) => (this.openGate = r));
    const run = this.updateChain.then(() => this.sync(dir));
    this.updateChain = run.catch(() => undefined);
    return run.finally(() => {
      if (--this.pendingUpdates === 0) this.openGate();
    });
  }

  private async sync(dir: string): Promise<number> {
    const t0 = performance.now();
    const target = this.version + 1;
    this.syncing = target;
    try {
      return await this.syncTo(dir, target, t0);
    } finally {
      this.syncing = null;
    }
  }

  private async syncTo(dir: string, target: number, t0: number): Promise<number> {
    // each step on every replica still in the update; a replica that fails a step is marked down
    // (and gets the weights again when it comes back)
    const step = async (rs: Replica[], f: (r: Replica) => Promise<void>) => {
      const ok = await Promise.all(
        rs.map((r) =>
          f(r).then(
            () => true,
            (e: unknown) => {
              this.markDown(this.replicas.indexOf(r), e);
              return false;
            },
          ),
        ),
      );
      return rs.filter((_, i) => ok[i]);
    };
    const paused = await step(this.replicas.filter((r) => r.up), (r) => r.client.pause());
    const loaded = await step(paused, (r) => r.client.loadWeights(dir, target));
    const resumed = await step(loaded, (r) => r.client.resume());
    if (resumed.length === 0) {
      const why = this.replicas.map((r) => `  ${r.client.url}: ${r.lastError ?? "down"}`).join("\n");
      throw new Error(`weight update to ${dir} reached no replica:\n${why}`);
    }
    this.version = target;
    this.lastDir = dir;
    this.lastRefitMs = performance.now() - t0;
    return target;
  }


  /** Marks replica i down (its sessions move on their next turn) and starts probing it. */
  markDown(i: number, e: unknown): void {
    const r = this.replicas[i];
    if (!r) return;
    r.failures++;
    r.lastError = e instanceof Error ? e.message : String(e);
    if (!r.up) return;
    r.up = false;
    r.client.reset();
    if (this.closed) return;
    r.probe = setInterval(() => void this.probe(r), this.opts.probeIntervalMs ?? 1000);
    r.probe.unref();
  }

  private probing = new Set<Replica>();

  private async probe(r: Replica): Promise<void> {
    if (this.probing.has(r) || r.up || this.closed) return;
    this.probing.add(r);
    try {
      await r.client.health({ timeoutMs: Math.max(500, this.opts.probeIntervalMs ?? 1000) });
      // a replica that restarted has its initial weights: give it the pool's before it takes requests
      const back = this.updateChain.then(async () => {
        if (this.lastDir !== null) {
          await r.client.pause();
          await r.client.loadWeights(this.lastDir, this.version);
          await r.client.resume();
        }
      });
      this.updateChain = back.catch(() => undefined);
      await back;
      if (this.closed) return;
      r.up = true;
      if (r.probe) clearInterval(r.probe);
      r.probe = null;
      const waiters = this.upWaiters;
      this.upWaiters = [];
      for (const w of waiters) w();
    } catch (e) {
      r.lastError = e instanceof Error ? e.message : String(e);
    } finally {
      this.probing.delete(r);
    }
  }

  /** The session's replica if it is up, else the least loaded; waits while none is up. */
  private async pick(sessionKey: string | undefined, signal: AbortSignal): Promise<Replica | null> {
    const deadline = performance.now() + (this.opts.unavailableTimeoutMs ?? this.opts.requestTimeoutMs ?? 300_000);
    for (;;) {
      if (sessionKey !== undefined) {
        const pinned = this.sessions.get(sessionKey);
        if (pinned?.up) {
          this.sessions.delete(sessionKey); // LRU: most recent last
          this.sessions.set(sessionKey, pinned);
          return pinned;
        }
      }
      const chosen = this.leastLoaded();
      if (chosen) {
        if (sessionKey !== undefined) this.remember(sessionKey, chosen);
        return chosen;
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new RemoteEngineError("unreachable", this.replicas.map((r) => r.client.url).join(", "), `no replica is up: ${this.replicas.map((r) => r.lastError).join("; ")}`);
      }
      const woke = await new Promise<boolean>((res) => {
        const t = setTimeout(() => res(true), Math.min(left, 1000));
        const onAbort = () => {
          clearTimeout(t);
          res(false);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        this.upWaiters.push(() => {
          clearTimeout(t);
          signal.removeEventListener("abort", onAbort);
          res(true);
        });
      });
      if (!woke || signal.aborted) return null;
    }
  }

  private leastLoaded(): Replica | null {
    const n = this.replicas.length;
    let best: Replica | null = null;
    // start the scan at a rotating index so ties spread round-robin
    const start = this.rotate++ % n;
    for (let k = 0; k < n; k++) {
      const r = this.replicas[(start + k) % n];
      if (r.up && (best === null || r.inFlight < best.inFlight)) best = r;
    }
    return best;
  }

  private remember(sessionKey: string, r: Replica): void {
    this.sessions.delete(sessionKey);
    this.sessions.set(sessionKey, r);
    const cap = this.opts.sessionCapacity ?? 65_536;
    if (this.sessions.size > cap) this.sessions.delete(this.sessions.keys().next().value as string);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closeController.abort();
    for (const r of this.replicas) if (r.probe) clearInterval(r.probe);
    for (const w of this.upWaiters) w();
    this.upWaiters = [];
  }
}

/**
 * Replicas answer whole generations, so `onToken` sees the tokens when the answer arrives, in order.
 * A caller that aborts during the replay (the OpenAI server does when a stop string matches) gets
 * what an in-process engine gives on abort: the tokens up to that one, finish reason "abort".
 */
function replayTokens(result: Omit<ReplicaGeneration, "reportedVersions" | "serverMs">, options: GenerateOptions): void {
  const ids = result.generationTokenIds;
  for (let i = 0; i < ids.length; i++) {
    options.onToken!({ tokenId: ids[i], logprob: result.generationLogProbs[i], ...(result.topLogprobs ? { top: result.topLogprobs[i] } : {}) });
    if (options.signal?.aborted && i + 1 < ids.length) {
      result.generationTokenIds = ids.slice(0, i + 1);
      result.generationLogProbs = result.generationLogProbs.slice(0, i + 1);
      if (result.topLogprobs) result.topLogprobs = result.topLogprobs.slice(0, i + 1);
      result.finishReason = "abort";
      return;
    }
  }
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let v = a; v <= b; v++) out.push(v);
  return out;
}

function abortedResult(request: GenerateRequest, version: number): GenerateResult {
  return {
    promptTokenIds: [...request.promptTokenIds],
    generationTokenIds: [],
    generationLogProbs: [],
    finishReason: "abort",
    policyVersion: version,
    policyVersions: [version],
  };
}

/** A signal that aborts when either does; dispose() detaches it from both. */
function linked(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const c = new AbortController();
  if (a.aborted || b.aborted) c.abort();
  const onAbort = () => c.abort();
  a.addEventListener("abort", onAbort, { once: true });
  b.addEventListener("abort", onAbort, { once: true });
  return {
    signal: c.signal,
    dispose: () => {
      a.removeEventListener("abort", onAbort);
      b.removeEventListener("abort", onAbort);
    },
  };
}

function untilOrAbort(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((res) => {
    const onAbort = () => res();
    signal.addEventListener("abort", onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener("abort", onAbort);
      res();
    });
  });
}
