/** POST /v1/chat/completions: OpenAI chat, plus the token fields NeMo RL's server attaches. */
import type { ServerResponse } from "node:http";
import { buildChatPrompt } from "./chat-prompt.ts";
import type { ServerContext } from "./context.ts";
import { chatLogprobs, floor, requireModel, runGeneration } from "./generation.ts";
import { streamablePrefix, type ParsedAssistantOutput } from "./output.ts";
import { SseWriter } from "./sse.ts";
import { parseChatCompletionRequest, type ChatCompletionRequest } from "./wire.ts";

export async function chatCompletions(ctx: ServerContext, body: unknown, signal: AbortSignal, res: ServerResponse) {
  const req = parseChatCompletionRequest(body);
  requireModel(ctx, req.model);
  const toolsEnabled = (req.tools?.length ?? 0) > 0 && req.tool_choice !== "none";
  const { promptTokenIds } = buildChatPrompt(ctx.tokenizer, {
    messages: req.messages,
    tools: req.tools,
    addGenerationPrompt: req.add_generation_prompt ?? true,
    templateKwargs: req.chat_template_kwargs,
    requiredPrefixTokenIds: req.required_prefix_token_ids,
  });
  const parseOpts = { parseToolCalls: toolsEnabled, parseReasoning: true };
  const id = ctx.newId("chatcmpl-");
  const created = Math.floor(Date.now() / 1000);

  const sse = req.stream ? new SseWriter(res) : null;
  let streamed = { reasoning: "", content: "" };
  const chunk = (delta: Record<string, unknown>, finishReason: string | null = null, extra: Record<string, unknown> = {}) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model: ctx.modelName,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason, ...extra }],
  });
  // Emit only what extends what was already sent, so the stream concatenates to the final message.
  const emitDelta = (parsed: ParsedAssistantOutput) => {
    const reasoning = parsed.reasoningContent ?? "";
    const content = parsed.content ?? "";
    const delta: Record<string, string> = {};
    if (reasoning.length > streamed.reasoning.length && reasoning.startsWith(streamed.reasoning)) {
      delta.reasoning_content = reasoning.slice(streamed.reasoning.length);
      streamed = { ...streamed, reasoning };
    }
    if (content.length > streamed.content.length && content.startsWith(streamed.content)) {
      delta.content = content.slice(streamed.content.length);
      streamed = { ...streamed, content };
    }
    if (Object.keys(delta).length > 0) sse!.send(chunk(delta));
  };

  const run = await runGeneration(ctx, {
    ...req,
    promptTokenIds,
    maxTokens: req.max_completion_tokens ?? req.max_tokens,
    topLogprobs: req.logprobs ? (req.top_logprobs ?? 0) : 0,
    signal,
    ...(sse
      ? {
          onText: (text: string) => {
            if (!sse.started) sse.send(chunk({ role: "assistant", content: "" }));
            const safe = ctx.parser.streamablePrefix ? ctx.parser.streamablePrefix(text, toolsEnabled) : streamablePrefix(text, toolsEnabled);
            emitDelta(ctx.parser.parse(safe, { parseToolCalls: false, parseReasoning: true }));
          },
        }
      : {}),
  });

  const parsed = ctx.parser.parse(run.text, parseOpts);
  const finishReason = parsed.toolCalls.length > 0 ? "tool_calls" : run.finishReason;
  const r = run.result;
  const tokenIdMode = req.return_tokens_as_token_ids ?? true;
  const tokenFields =
    req.logprobs && tokenIdMode
      ? {
          prompt_token_ids: r.promptTokenIds,
          generation_token_ids: r.generationTokenIds,
          generation_log_probs: r.generationLogProbs.map(floor),
        }
      : {};
  const logprobs = req.logprobs ? { content: chatLogprobs(ctx, r, tokenIdMode) } : null;
  const usage = {
    prompt_tokens: r.promptTokenIds.length,
    completion_tokens: r.generationTokenIds.length,
    total_tokens: r.promptTokenIds.length + r.generationTokenIds.length,
  };
  const toolCalls = parsed.toolCalls.length > 0 ? parsed.toolCalls : undefined;

  if (sse) {
    if (!sse.started) sse.send(chunk({ role: "assistant", content: "" }));
    emitDelta(parsed);
    if (toolCalls) sse.send(chunk({ tool_calls: toolCalls.map((tc, index) => ({ index, ...tc })) }));
    sse.send(
      chunk({ ...tokenFields }, finishReason, {
        ...(logprobs ? { logprobs } : {}),
        ...(req.return_token_ids ? { token_ids: r.generationTokenIds } : {}),
      }),
    );
    if (req.stream_options?.include_usage) sse.send({ id, object: "chat.completion.chunk", created, model: ctx.modelName, choices: [], usage });
    sse.done();
    return undefined;
  }

  return {
    id,
    object: "chat.completion",
    created,
    model: ctx.modelName,
    ...(req.return_token_ids ? { prompt_token_ids: r.promptTokenIds } : {}),
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: parsed.content,
          reasoning_content: parsed.reasoningContent,
          tool_calls: toolCalls ?? [],
          ...tokenFields,
        },
        logprobs,
        finish_reason: finishReason,
        stop_reason: run.stopReason,
        ...(req.return_token_ids ? { token_ids: r.generationTokenIds } : {}),
      },
    ],
    usage,
    policy_version: r.policyVersion,
  };
}

export type { ChatCompletionRequest };
