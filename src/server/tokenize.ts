/** POST /tokenize and /detokenize, answered as vLLM does; chat tokenization shares the prefix fix. */
import { buildChatPrompt } from "./chat-prompt.ts";
import type { ServerContext } from "./context.ts";
import { badRequest } from "./errors.ts";
import { requireModel } from "./generation.ts";
import { detokenizeRequestSchema, parseBody, tokenizeChatRequestSchema, tokenizePromptRequestSchema } from "./wire.ts";

export function tokenize(ctx: ServerContext, body: unknown) {
  const isChat = typeof body === "object" && body !== null && "messages" in body;
  let tokens: number[];
  if (isChat) {
    const req = parseBody(tokenizeChatRequestSchema, body);
    requireModel(ctx, req.model);
    tokens = buildChatPrompt(ctx.tokenizer, {
      messages: req.messages,
      tools: req.tools,
      addGenerationPrompt: req.add_generation_prompt ?? true,
      templateKwargs: req.chat_template_kwargs,
      requiredPrefixTokenIds: req.required_prefix_token_ids,
    }).promptTokenIds;
  } else {
    const req = parseBody(tokenizePromptRequestSchema, body);
    requireModel(ctx, req.model);
    tokens = ctx.tokenizer.encode(req.prompt);
  }
  return { count: tokens.length, max_model_len: ctx.engine.maxModelLen, tokens };
}

export function detokenize(ctx: ServerContext, body: unknown) {
  const req = parseBody(detokenizeRequestSchema, body);
  requireModel(ctx, req.model);
  for (const t of req.tokens) {
    if (t >= ctx.tokenizer.vocabSize) throw badRequest(`token id ${t} is outside the vocabulary (size ${ctx.tokenizer.vocabSize})`, "tokens");
  }
  return { prompt: ctx.tokenizer.decode(req.tokens) };
}
