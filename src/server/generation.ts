/**
 * One generation as the HTTP handlers run it: room left in the context, stop strings (the engine
 * knows only stop token ids), streaming text, and logprob entries in OpenAI's shape.
 */
import type { GenerateResult, GeneratedToken } from "../engine/types.ts";
import type { ServerContext } from "./context.ts";
import { badRequest, OpenAIHttpError } from "./errors.ts";
import { IncrementalText } from "./incremental-text.ts";
import { toSamplingParams, type SamplingFields } from "./sampling.ts";

/** vLLM floors logprobs so that -inf never reaches JSON. */
export const LOGPROB_FLOOR = -9999.0;

export interface RunOptions extends SamplingFields {
  promptTokenIds: number[];
  maxTokens?: number | null;
  stop?: string | string[] | null;
  /** Wire names, so the handlers' spread of the request body fills them in. */
  stop_token_ids?: readonly number[] | null;
  /** vLLM's extra param: keep the matched stop string at the end of the text. */
  include_stop_str_in_output?: boolean | null;
  topLogprobs: number;
  signal: AbortSignal;
  /** Called with the decoded text so far after every token (held back near a possible stop string). */
  onText?: (text: string) => void;
}

export interface RunResult {
  /** The engine's result, cut after the token that completed a matched stop string. */
  result: GenerateResult;
  /** Decoded generation, special tokens skipped, cut before a matched stop string (or after it). */
  text: string;
  finishReason: "stop" | "length";
  /** vLLM's stop_reason: the matched stop string, or the request's stop token id; null for EOS or length. */
  stopReason: string | number | null;
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

interface StopMatch {
  /** Where the stop string starts in the decoded text. */
  at: number;
  stop: string;
  /** Tokens up to and including the one that completed the stop string. */
  tokens: number;
}

export async function runGeneration(ctx: ServerContext, opts: RunOptions): Promise<RunResult> {
  const sampling = toSamplingParams(opts, ctx.samplingProfiles);
  const maxTokens = clampMaxTokens(ctx, opts.promptTokenIds.length, opts.maxTokens);
  const stops = typeof opts.stop === "string" ? [opts.stop] : (opts.stop ?? []).filter((s) => s.length > 0);
  const includeStop = opts.include_stop_str_in_output ?? false;
  const { tokenizer } = ctx;
  // A streamed prefix must never show text that a later token turns into a stop string (which the
  // final text then drops), so the last (longest stop - 1) characters wait, as vLLM's buffer does.
  const holdBack = stops.length > 0 && !includeStop ? Math.max(...stops.map((s) => s.length)) - 1 : 0;

  // The engine stops on token ids; stop strings are matched on the decoded text here, and a match
  // aborts the engine through an inner signal. Without text to watch the request's own signal does.
  const watchText = stops.length > 0 || opts.onText !== undefined;
  const inner = watchText ? new AbortController() : null;
  const onOuterAbort = () => inner?.abort();
  if (inner) opts.signal.addEventListener("abort", onOuterAbort, { once: true });
  // Each token decodes a short window, not the whole generation (incremental-text.ts).
  const detok = new IncrementalText((ids) => tokenizer.decode(ids));
  const longestStop = stops.length > 0 ? Math.max(...stops.map((s) => s.length)) : 0;
  let tokens = 0;
  let match: StopMatch | null = null;
  const onToken = watchText
    ? (t: GeneratedToken) => {
        // The abort reaches the engine's worker a step or more later: ignore what it still sends.
        if (match) return;
        tokens++;
        const added = detok.push(t.tokenId);
        if (added.length === 0) return;
        const text = detok.text;
        // Earlier text held no stop string, so a match ends inside the new text.
        const from = Math.max(0, text.length - added.length - longestStop + 1);
        for (const stop of stops) {
          const at = text.indexOf(stop, from);
          if (at >= 0 && (!match || at < match.at)) match = { at, stop, tokens };
        }
        if (match) {
          inner!.abort();
          return;
        }
        opts.onText?.(holdBack > 0 ? text.slice(0, Math.max(0, text.length - holdBack)) : text);
      }
    : undefined;

  try {
    let result = await ctx.engine.generate(
      {
        promptTokenIds: opts.promptTokenIds,
        sampling,
        maxTokens,
        stopTokenIds: [...ctx.stopTokenIds, ...(opts.stop_token_ids ?? [])],
        topLogprobs: opts.topLogprobs,
      },
      { signal: inner?.signal ?? opts.signal, ...(onToken ? { onToken } : {}) },
    );
    if (opts.signal.aborted) throw new OpenAIHttpError(499, "client closed the request");
    const stopMatch = match as StopMatch | null; // assigned in the callback; TS narrows it to null here
    if (stopMatch) {
      // vLLM's token fields end with the token that completed the stop string; anything the engine
      // produced before the abort landed was never seen by the client and must not be trained on.
      result = truncateResult(result, stopMatch.tokens);
      const text = tokenizer.decode(result.generationTokenIds);
      const end = includeStop ? stopMatch.at + stopMatch.stop.length : stopMatch.at;
      return { result, text: text.slice(0, end), finishReason: "stop", stopReason: stopMatch.stop };
    }
    const ids = result.generationTokenIds;
    if (result.finishReason === "length") return { result, text: tokenizer.decode(ids), finishReason: "length", stopReason: null };
    const last = ids.at(-1);
    const byRequestStopId = last !== undefined && !ctx.stopTokenIds.includes(last) && (opts.stop_token_ids ?? []).includes(last);
    // vLLM keeps a request stop token in the ids but not its text, unless include_stop_str_in_output.
    const text = tokenizer.decode(byRequestStopId && !includeStop ? ids.slice(0, -1) : ids);
    return { result, text, finishReason: "stop", stopReason: byRequestStopId ? last : null };
  } finally {
    if (inner) opts.signal.removeEventListener("abort", onOuterAbort);
  }
}

/** The result as if generation had ended after `tokens` tokens with a stop. */
function truncateResult(r: GenerateResult, tokens: number): GenerateResult {
  return {
    ...r,
    generationTokenIds: r.generationTokenIds.slice(0, tokens),
    generationLogProbs: r.generationLogProbs.slice(0, tokens),
    ...(r.topLogprobs ? { topLogprobs: r.topLogprobs.slice(0, tokens) } : {}),
    finishReason: "stop",
  };
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
