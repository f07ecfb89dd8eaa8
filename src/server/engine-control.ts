/**
 * The control surface the SGLang and vLLM dialect routes drive, over the server's engine: a pause
 * gate, weight updates from a checkpoint directory, and weight-version labels. It wraps the engine
 * as a GenerationEngine, so OpenAI, SGLang and vLLM requests all pass the same gate.
 *
 * Pause modes, mapped onto an engine that applies weight updates between two of its steps:
 *   "abort"                     in-flight requests end now (finish reason abort, tokens so far)
 *   "wait"                      the pause returns once in-flight requests have finished
 *   "keep" / "in_place" / "retract"
 *                               new requests wait; in-flight ones are not frozen but keep decoding
 *                               on the old weights until an update lands between two steps, then
 *                               continue on the new ones: the same token mixture vLLM's keep mode
 *                               gives, and every result lists each version that produced tokens.
 * Requests that arrive while paused wait for resume (or their client's disconnect).
 */
import type {
  GenerateOptions,
  GenerateRequest,
  GenerateResult,
  GenerationEngine,
  UpdatableGenerationEngine,
} from "../engine/types.ts";
import { OpenAIHttpError } from "./errors.ts";

export type PauseMode = "abort" | "wait" | "keep" | "in_place" | "retract";

export class EngineControl implements GenerationEngine {
  private paused = false;
  private resumed: Promise<void> = Promise.resolve();
  private release: () => void = () => {};
  private readonly inFlight = new Set<AbortController>();
  private drained: Array<() => void> = [];
  /** weight-version label of each policy version (SGLang's weight_version); default: the number */
  private readonly labels = new Map<number, string>();

  constructor(readonly engine: UpdatableGenerationEngine) {}

  get maxModelLen(): number {
    return this.engine.maxModelLen;
  }

  get policyVersion(): number {
    return this.engine.policyVersion;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  labelOf(version: number): string {
    return this.labels.get(version) ?? String(version);
  }

  /**
   * For the OpenAI routes: a request ended by an abort-mode pause is an error (503, retry), never a
   * short answer that looks finished; the OpenAI shapes have no finish reason for it.
   */
  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    const r = await this.run(request, options);
    if (r.finishReason === "abort" && !options.signal?.aborted) {
      throw new OpenAIHttpError(503, "generation was aborted by a pause of the engine (a weight update); send the request again", "server_error");
    }
    return r;
  }

  /** For SGLang's /generate: a request ended by an abort-mode pause comes back with finish reason abort. */
  async run(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    const { signal } = options;
    while (this.paused) {
      if (signal?.aborted) break;
      await waitOrAbort(this.resumed, signal);
    }
    const own = new AbortController();
    const onAbort = () => own.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) own.abort();
    this.inFlight.add(own);
    try {
      return await this.engine.generate(request, { ...options, signal: own.signal });
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.inFlight.delete(own);
      if (this.inFlight.size === 0) for (const d of this.drained.splice(0)) d();
    }
  }

  async pause(mode: PauseMode): Promise<void> {
    if (!this.paused) {
      this.paused = true;
      this.resumed = new Promise<void>((r) => (this.release = r));
    }
    if (mode === "abort") for (const c of this.inFlight) c.abort();
    if (mode === "wait" && this.inFlight.size > 0) await new Promise<void>((r) => this.drained.push(r));
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.release();
  }

  /** Aborts every request in flight (SGLang's abort_all_requests). */
  abortAll(): void {
    for (const c of this.inFlight) c.abort();
  }

  /** Loads a checkpoint directory as the next policy version, labelled `label` when given. */
  async loadCheckpoint(dir: string, label?: string): Promise<number> {
    const version = await this.engine.updateWeights({ kind: "checkpoint", dir });
    if (label !== undefined) this.labels.set(version, label);
    return version;
  }

  close(): Promise<void> {
    this.resume();
    return this.engine.close();
  }
}

/** Whether the engine can take new weights (the embedded engine can; a plain test double may not). */
export function isUpdatable(engine: GenerationEngine): engine is UpdatableGenerationEngine {
  return typeof (engine as Partial<UpdatableGenerationEngine>).updateWeights === "function";
}

function waitOrAbort(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  return new Promise<void>((res) => {
    const done = () => {
      signal.removeEventListener("abort", done);
      res();
    };
    signal.addEventListener("abort", done, { once: true });
    void p.then(done);
  });
}
