/**
 * What the pool needs of one remote server, whatever its dialect: token-in/token-out generation,
 * a health probe, the context length, and the three steps of a weight sync (pause, load a
 * checkpoint directory and drop cached prefixes, resume). vllm-client.ts and sglang-client.ts
 * implement it against each server's documented routes; the pool knows nothing of wire shapes.
 */
import type { FinishReason, GenerateRequest, TokenLogprob } from "../types.ts";

export type Dialect = "vllm" | "sglang";

export interface ReplicaGenerateOptions {
  signal?: AbortSignal;
  /** per-attempt limit in ms */
  timeoutMs?: number;
  /** the conversation's key, forwarded where the dialect has a field for it */
  sessionKey?: string;
}

/** One generation as a replica answered it, validated against the request. */
export interface ReplicaGeneration {
  promptTokenIds: number[];
  generationTokenIds: number[];
  generationLogProbs: number[];
  topLogprobs?: TokenLogprob[][];
  finishReason: FinishReason;
  cachedPromptTokens?: number;
  /**
   * Policy versions the server says produced the tokens (SGLang's `weight_version` labels, which
   * the pool sets to its version numbers); absent when the server does not say (vLLM).
   */
  reportedVersions?: number[];
  /** the server's own time on the request, ms (SGLang's meta_info.e2e_latency), when it says */
  serverMs?: number;
}

export interface ReplicaClient {
  readonly dialect: Dialect;
  /** base URL, without a trailing slash or /v1 */
  readonly url: string;
  generate(request: GenerateRequest, options: ReplicaGenerateOptions): Promise<ReplicaGeneration>;
  /** Resolves when GET /health answers 2xx. */
  health(options?: { timeoutMs?: number }): Promise<void>;
  /** The served context length (GET /v1/models, `max_model_len`). */
  maxModelLen(options?: { timeoutMs?: number }): Promise<number>;
  /** Stop starting new work; in-flight requests are kept (vLLM) or aborted and retried by the pool (SGLang). */
  pause(): Promise<void>;
  /** Load the HF safetensors checkpoint at `dir` (absolute, visible to the server) as `version`; drop cached prefixes. */
  loadWeights(dir: string, version: number): Promise<void>;
  resume(): Promise<void>;
  /** Forget per-connection state (e.g. an initialised weight-transfer engine) after the replica went down. */
  reset(): void;
}

/** top_k in both dialects: -1 disables (our 0 or -1). */
export const wireTopK = (topK: number) => (topK > 0 ? topK : -1);

/** `http://host:port/v1/` → `http://host:port`. */
export function normalizeBaseUrl(url: string): string {
  const u = url.trim().replace(/\/+$/, "").replace(/\/v1$/, "");
  if (!/^https?:\/\/[^/]+/.test(u)) throw new Error(`replica URL ${JSON.stringify(url)} is not an http(s) URL`);
  return u;
}
