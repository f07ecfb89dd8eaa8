/** POST /v1/completions: a string or token-id prompt, no chat template. */
import type { ServerContext } from "./context.ts";
import { badRequest } from "./errors.ts";
import { floor, requireModel, runGeneration } from "./generation.ts";
import { SseWriter } from "./sse.ts";
import type { ServerResponse } from "node:http";
import { completionRequestSchema, parseBody } from "./wire.ts";

export async function completions(ctx: ServerContext, body: unknown, signal: AbortSignal, res: ServerResponse) {
  const req = parseBody(completionRequestSchema, body);
  requireModel(ctx, req.model);
  const prompt = Array.isArray(req.prompt) && req.prompt.length === 1 && typeof req.prompt[0] !== "number" ? req.prompt[0] : req.prompt;
  const promptTokenIds = typeof prompt === "string" ? ctx.tokenizer.encode(prompt) : (prompt as number[]);
  if (promptTokenIds.length === 0) throw badRequest("prompt is empty", "prompt");
  for (const t of promptTokenIds) {
    if (t >= ctx.tokenizer.vocabSize) throw badRequest(`token id ${t} is outside the vocabulary (size ${ctx.tokenizer.vocabSize})`, "prompt");
  }
  const id = ctx.newId("cmpl-");
  const created = Math.floor(Date.now() / 1000);
  const sse = req.stream ? new SseWriter(res) : null;
  let sent = "";
  const run = await runGeneration(ctx, {
    ...req,
    promptTokenIds,
    maxTokens: req.max_tokens ?? 16, // OpenAI's completions default
    topLogprobs: req.logprobs ?? 0,
    signal,
    ...(sse
      ? {
          onText: (text: string) => {
            const safe = text.replace(/\uFFFD+$/, "");
            if (safe.length > sent.length && safe.startsWith(sent)) {
              sse.send({ id, object: "text_completion", created, model: ctx.modelName, choices: [{ index: 0, text: safe.slice(sent.length), logprobs: null, finish_reason: null }] });
              sent = safe;
            }
          },
        }
      : {}),
  });
  const r = run.result;
  const tokenIdMode = req.return_tokens_as_token_ids ?? false;
  const name = (tid: number) => (tokenIdMode ? `token_id:${tid}` : ctx.tokenizer.decode([tid]));
  const logprobs =
    req.logprobs != null
      ? {
          tokens: r.generationTokenIds.map(name),
          token_logprobs: r.generationLogProbs.map(floor),
          top_logprobs: (r.topLogprobs ?? r.generationTokenIds.map(() => [])).map((alts) =>
            Object.fromEntries(alts.map((a) => [name(a.tokenId), floor(a.logprob)])),
          ),
          text_offset: [],
        }
      : null;
  const usage = {
    prompt_tokens: r.promptTokenIds.length,
    completion_tokens: r.generationTokenIds.length,
    total_tokens: r.promptTokenIds.length + r.generationTokenIds.length,
    // vLLM's prefix-cache hits (reported there with --enable-prompt-tokens-details)
    ...(r.cachedPromptTokens !== undefined ? { prompt_tokens_details: { cached_tokens: r.cachedPromptTokens } } : {}),
  };
  const choice = {
    index: 0,
    text: run.text,
    logprobs,
    finish_reason: run.finishReason,
    stop_reason: run.stopReason,
    ...(req.return_token_ids ? { prompt_token_ids: r.promptTokenIds, token_ids: r.generationTokenIds } : {}),
  };
  if (sse) {
    const tail = run.text.startsWith(sent) ? run.text.slice(sent.length) : "";
    sse.send({ id, object: "text_completion", created, model: ctx.modelName, choices: [{ ...choice, text: tail }] });
    if (req.stream_options?.include_usage) sse.send({ id, object: "text_completion", created, model: ctx.modelName, choices: [], usage });
    sse.done();
    return undefined;
  }
  return { id, object: "text_completion", created, model: ctx.modelName, choices: [choice], usage, policy_version: r.policyVersion };
}
