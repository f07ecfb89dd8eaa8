/**
 * The generation seam: token ids in, token ids and logprobs out. The embedded engine implements it
 * in-process; a remote engine (vLLM `/v1/completions` with token-id prompts, SGLang `/generate`
 * with `input_ids`) is another implementation of the same interface.
 */

export interface SamplingParams {
  /** 0 means greedy. */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 disables. */
  topP: number;
  /** Keep the k most likely tokens; 0 or -1 disables. */
  topK: number;
  /** Per-request seed; the same seed and prompt give the same tokens. */
  seed?: number;
}

export interface GenerateRequest {
  promptTokenIds: readonly number[];
  sampling: SamplingParams;
  maxTokens: number;
  /** Generation ends (finish reason "stop") after emitting any of these; the id is kept. */
  stopTokenIds: readonly number[];
  /** How many alternatives to report per position (OpenAI top_logprobs); 0 = none. */
  topLogprobs?: number;
}

export type FinishReason = "stop" | "length" | "abort";

export interface TokenLogprob {
  tokenId: number;
  logprob: number;
}

/** One step of a streamed generation. */
export interface GeneratedToken extends TokenLogprob {
  top?: TokenLogprob[];
}

export interface GenerateResult {
  /** The prompt exactly as the engine saw it. */
  promptTokenIds: number[];
  generationTokenIds: number[];
  /** log p(token) under the distribution actually sampled from (after temperature, top-k, top-p). */
  generationLogProbs: number[];
  /** Per generated position, the top alternatives when topLogprobs > 0. */
  topLogprobs?: TokenLogprob[][];
  finishReason: FinishReason;
  /** Policy version of the weights that produced the first token. */
  policyVersion: number;
  /** Versions seen during the whole generation (more than one when weights changed mid-way). */
  policyVersions: number[];
  /**
   * Per generated token, the policy version of the weights whose forward pass sampled it (vLLM's
   * in-flight updates: a sequence keeps its KV cache across an update, and its later tokens come
   * from the new weights). Absent when the engine cannot say token by token.
   */
  generationPolicyVersions?: number[];
  /**
   * Prompt tokens whose keys and values came from the engine's prefix cache instead of being
   * computed (vLLM's usage.prompt_tokens_details.cached_tokens); absent when the engine does not say.
   */
  cachedPromptTokens?: number;
}

export interface GenerateOptions {
  /** Aborting frees the sequence's slot; the result then has finishReason "abort". */
  signal?: AbortSignal;
  /** Called for every token as it is produced (streaming). */
  onToken?: (token: GeneratedToken) => void;
  /**
   * Identifies a conversation (one rollout) across its turns. An engine with several replicas sends
   * every request of one key to the same replica, so later turns hit the prefix cache of earlier
   * ones (src/engine/remote); a single engine ignores it.
   */
  sessionKey?: string;
}

export interface GenerationEngine {
  /** Longest prompt + generation the engine accepts. */
  readonly maxModelLen: number;
  /** Version of the weights new requests start under; bumped by every weight update. */
  readonly policyVersion: number;
  generate(request: GenerateRequest, options?: GenerateOptions): Promise<GenerateResult>;
  close(): Promise<void>;
}

// ------------------------------------------------------------------------------------------------
// weight updates (refit)

/**
 * New weights for an engine. Every kind is applied between two model steps: in-flight requests
 * continue on the new weights with their KV cache kept (so one generation can span versions, as
 * vLLM's in-flight updates), and the policy version is bumped by one.
 */
export type WeightUpdate =
  /**
   * The engine computes on a SharedArrayBuffer shared with the trainer (colocated, no copy).
   * `write` runs while the engine is paused between steps: the trainer writes its new weights into
   * the shared buffer then (e.g. its optimizer step), and the engine resumes under the new version.
   * Without `write`, only the version is bumped: the caller guarantees no write overlapped a step.
   */
  | { kind: "shared"; write?: () => void | Promise<void> }
  /** Double buffering: the engine switches to another SharedArrayBuffer-backed buffer (no copy). */
  | { kind: "swap"; params: Float32Array }
  /** The engine takes a copy of these parameters (non-shared case). */
  | { kind: "copy"; params: Float32Array }
  /** The engine loads the weights of a checkpoint directory (same architecture and vocabulary). */
  | { kind: "checkpoint"; dir: string };

/** An engine whose weights can be replaced while it serves (the embedded engine). */
export interface UpdatableGenerationEngine extends GenerationEngine {
  /** Applies an update (a bare Float32Array is a copy) and resolves to the new policy version. */
  updateWeights(update: WeightUpdate | Float32Array): Promise<number>;
}
