/**
 * OpenAI Chat Completions wire types, as the model proxy sends them to a policy server (vLLM,
 * gymrl's own) and reads them back, with the training extras: token-id flags on the request and
 * the token bundle on messages. Loose, since backends add fields of their own.
 */
import { z } from "zod";
import { tokenFieldsShape } from "./tokens.ts";

export const chatToolCall = z.looseObject({
  id: z.string(),
  type: z.literal("function").optional(),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

export const chatMessage = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]).nullish(),
  tool_calls: z.array(chatToolCall).nullish(),
  tool_call_id: z.string().nullish(),
  reasoning_content: z.string().nullish(),
  reasoning: z.string().nullish(),
  ...tokenFieldsShape,
});

export const chatCompletionCreateParams = z.looseObject({
  model: z.string().nullish(),
  messages: z.array(chatMessage).min(1),
  tools: z.array(z.looseObject({ type: z.string() })).nullish(),
  stream: z.boolean().nullish(),
  n: z.number().int().nullish(),
});

const logprobContent = z.looseObject({ token: z.string(), logprob: z.number() });

export const chatChoice = z.looseObject({
  index: z.number().int().optional(),
  message: chatMessage.extend({ role: z.literal("assistant") }),
  finish_reason: z.string().nullish(),
  logprobs: z.looseObject({ content: z.array(logprobContent).nullish() }).nullish(),
  token_ids: z.array(z.number().int()).nullish(),
});

export const chatCompletion = z.looseObject({
  id: z.string().optional(),
  object: z.string().optional(),
  created: z.number().optional(),
  model: z.string().optional(),
  choices: z.array(chatChoice).min(1),
  usage: z
    .looseObject({
      prompt_tokens: z.number(),
      completion_tokens: z.number(),
      total_tokens: z.number().optional(),
      prompt_tokens_details: z.looseObject({ cached_tokens: z.number().nullish() }).nullish(),
      completion_tokens_details: z.looseObject({ reasoning_tokens: z.number().nullish() }).nullish(),
    })
    .nullish(),
  prompt_token_ids: z.array(z.number().int()).nullish(),
});

export type ChatToolCall = z.infer<typeof chatToolCall>;
export type ChatMessage = z.infer<typeof chatMessage>;
export type ChatCompletionCreateParams = z.infer<typeof chatCompletionCreateParams>;
export type ChatChoice = z.infer<typeof chatChoice>;
export type ChatCompletion = z.infer<typeof chatCompletion>;
