/**
 * One generation as the HTTP handlers run it: room left in the context, stop strings (the engine
 * knows only stop token ids), streaming text, and logprob entries in OpenAI's shape.
 */
import type { GenerateResult, GeneratedToken } from "../engine/types.ts";
import type { ServerContext } from "./context.ts";
import { badRequest, OpenAIHttpError } from "./errors.ts";
import { toSamplingParams, type SamplingFields } from "./sampling.ts";

/** vLLM floors logprobs so that -inf never reaches JSON. */
export const LOGPROB_FLOOR = -9999.0;

export interface RunOptions extends SamplingFields {
  promptTokenIds: number[];
  maxTokens?: number | null;
  stop?: string | string[] | null;
  stopTokenIds?: readonly number[] | null;
  topLogprobs: number;
  signal: AbortSignal;
  /** Called with the decoded text so far after every token. */
  onText?: (text: string) => void;
}

export interface RunResult {
  result: GenerateResult;
  /** Decoded generation, special tokens skipped, cut before a matched stop string. */
  text: string;
  finishReason: "stop" | "length";
}

/** Refuse prompts that leave no room, and clamp max_tokens to the room left (as NeMo RL does). */
export function clampMaxTokens(ctx: ServerContext, promptLength: number, requested: number | null | undefined): number {
  const maxLen = ctx.engine.maxModelLen;
  if (promptLength >= maxLen) {
    throw new OpenAIHttpError(
      400,
      `This model's maximum context length is ${maxLen} tokens. However, your request has ${promptLength} ` +
        "input tokens. Please reduce the length of the input messages.",
      "invalid_request_error",
      "messages",
    );
  }
  return Math.min(requested ?? maxLen, maxLen - promptLength);
}

export async function runGeneration(ctx: ServerContext, opts: RunOptions): Promise<RunResult> {
  const sampling = toSamplingParams(opts, ctx.samplingProfiles);
  const maxTokens = clampMaxTokens(ctx, opts.promptTokenIds.length, opts.maxTokens);
  const stops = typeof opts.stop === "string" ? [opts.stop] : (opts.stop ?? []).filter((s) => s.length > 0);
  const { tokenizer } = ctx;

  // The engine stops on token ids; stop strings are matched on the decoded text here, and a match
  // aborts the engine through an inner signal. Without text to watch the request's own signal does.
  const watchText = stops.length > 0 || opts.onText !== undefined;
  const inner = watchText ? new AbortController() : null;
  const onOuterAbort = () => inner?.abort();
  if (inner) opts.signal.addEventListener("abort", onOuterAbort, { once: true });
  const generated: number[] = [];
  let stopAt = -1;
  const onToken = watchText
    ? (t: GeneratedToken) => {
        if (stopAt >= 0) return;
        generated.push(t.tokenId);
        const text = tokenizer.decode(generated);
        for (const s of stops) {
          const at = text.indexOf(s);
          if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (stopAt >= 0) {
          inner!.abort();
          return;
        }
        opts.onText?.(text);
      }
    : undefined;

  try {
    const result = await ctx.engine.generate(
      {
        promptTokenIds: opts.promptTokenIds,
        sampling,
        maxTokens,
        stopTokenIds: [...ctx.stopTokenIds, ...(opts.stopTokenIds ?? [])],
        topLogprobs: opts.topLogprobs,
      },
      { signal: inner?.signal ?? opts.signal, ...(onToken ? { onToken } : {}) },
    );
    if (opts.signal.aborted) throw new OpenAIHttpError(499, "client closed the request");
    let text = tokenizer.decode(result.generationTokenIds);
    let finishReason: "stop" | "length" = result.finishReason === "length" ? "length" : "stop";
    if (stopAt >= 0) {
      text = text.slice(0, stopAt);
      finishReason = "stop";
    }
    return { result, text, finishReason };
  } finally {
    if (inner) opts.signal.removeEventListener("abort", onOuterAbort);
  }
}

export function requireModel(ctx: ServerContext, model: string | null | undefined): void {
  if (model != null && model !== ctx.modelName) {
    throw new OpenAIHttpError(404, `The model \`${model}\` does not exist. This server serves \`${ctx.modelName}\`.`, "not_found_error", "model");
  }
}

export interface LogprobEntry {
  token: string;
  logprob: number;
  bytes: number[] | null;
  top_logprobs: Array<{ token: string; logprob: number; bytes: number[] | null }>;
}

/** OpenAI chat `logprobs.content`, with tokens as "token_id:<id>" in token-id mode (vLLM). */
export function chatLogprobs(ctx: ServerContext, r: GenerateResult, asTokenIds: boolean): LogprobEntry[] {
  const name = (id: number) => (asTokenIds ? `token_id:${id}` : ctx.tokenizer.decode([id]));
  const bytes = (id: number) => (asTokenIds ? null : [...Buffer.from(name(id), "utf8")]);
  return r.generationTokenIds.map((id, i) => ({
    token: name(id),
    logprob: floor(r.generationLogProbs[i]),
    bytes: bytes(id),
    top_logprobs: (r.topLogprobs?.[i] ?? []).map((t) => ({ token: name(t.tokenId), logprob: floor(t.logprob), bytes: bytes(t.tokenId) })),
  }));
}

export const floor = (lp: number) => (Number.isFinite(lp) ? Math.max(lp, LOGPROB_FLOOR) : LOGPROB_FLOOR);

export function ensure(cond: boolean, message: string, param?: string): asserts cond {
  if (!cond) throw badRequest(message, param ?? null);
}
