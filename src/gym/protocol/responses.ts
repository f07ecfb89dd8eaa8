/**
 * OpenAI Responses API wire types as NeMo Gym uses them (`nemo_gym/openai_utils.py`): the create
 * params (`NeMoGymResponseCreateParamsNonStreaming`), input/output items with optional token
 * fields, and the response (`NeMoGymResponse`). Loose objects keep unknown fields, so items pass
 * through servers untouched; only the create params' top level is strict, as in NeMo Gym.
 */
import { z } from "zod";
import { atomicTokenFields, tokenFieldsShape } from "./tokens.ts";

const contentPart = z.looseObject({ type: z.string() });

export const messageItem = z
  .looseObject({
    type: z.literal("message").optional(),
    role: z.enum(["user", "assistant", "system", "developer"]),
    content: z.union([z.string(), z.array(contentPart)]),
    id: z.string().nullish(),
    status: z.string().nullish(),
    ...tokenFieldsShape,
  })
  .superRefine(atomicTokenFields);

export const functionCallItem = z
  .looseObject({
    type: z.literal("function_call"),
    name: z.string(),
    arguments: z.string(),
    call_id: z.string(),
    id: z.string().nullish(),
    status: z.string().nullish(),
    ...tokenFieldsShape,
  })
  .superRefine(atomicTokenFields);

export const functionCallOutputItem = z.looseObject({
  type: z.literal("function_call_output"),
  call_id: z.string(),
  output: z.union([z.string(), z.array(contentPart)]),
  id: z.string().nullish(),
  status: z.string().nullish(),
});

export const reasoningItem = z
  .looseObject({
    type: z.literal("reasoning"),
    id: z.string().nullish(),
    summary: z.array(z.looseObject({ type: z.string(), text: z.string() })),
    encrypted_content: z.string().nullish(),
    ...tokenFieldsShape,
  })
  .superRefine(atomicTokenFields);

/** Hosted-tool items (mcp_call, web_search_call, ...): carried through, not interpreted. */
export const otherItem = z.looseObject({
  type: z.string().refine((t) => !["message", "function_call", "function_call_output", "reasoning"].includes(t)),
});

export const inputItem = z.union([messageItem, functionCallItem, functionCallOutputItem, reasoningItem, otherItem]);

export const functionTool = z.looseObject({
  type: z.literal("function"),
  name: z.string(),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});
export const tool = z.union([functionTool, z.looseObject({ type: z.string() })]);

/** The create params; strict at the top level (NeMo Gym: extra="forbid" → unknown keys are an error). */
export const responseCreateParams = z.strictObject({
  background: z.boolean().nullish(),
  include: z.array(z.string()).nullish(),
  input: z.union([z.string(), z.array(inputItem)]),
  instructions: z.string().nullish(),
  max_output_tokens: z.number().int().nullish(),
  max_tool_calls: z.number().int().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  model: z.string().nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  previous_response_id: z.string().nullish(),
  prompt: z.unknown().nullish(),
  reasoning: z.looseObject({ effort: z.string().nullish() }).nullish(),
  service_tier: z.string().nullish(),
  store: z.boolean().nullish(),
  temperature: z.number().nullish(),
  text: z.unknown().nullish(),
  tool_choice: z.union([z.string(), z.looseObject({ type: z.string() })]).nullish(),
  tools: z.array(tool).nullish(),
  top_logprobs: z.number().int().nullish(),
  top_p: z.number().nullish(),
  truncation: z.string().nullish(),
  user: z.string().nullish(),
  stream: z.boolean().nullish(),
});

export const usage = z.looseObject({
  input_tokens: z.number(),
  input_tokens_details: z.looseObject({ cached_tokens: z.number() }).nullish(),
  output_tokens: z.number(),
  output_tokens_details: z.looseObject({ reasoning_tokens: z.number() }).nullish(),
  total_tokens: z.number(),
});

/** Output items must each have a `type`; the rest passes through untouched. */
export const outputItem = z.looseObject({ type: z.string() });

export const response = z.looseObject({
  id: z.string(),
  object: z.literal("response").optional(),
  created_at: z.number().nullish(),
  model: z.string().nullish(),
  output: z.array(outputItem),
  status: z.string().nullish(),
  incomplete_details: z.looseObject({ reason: z.string().nullish() }).nullish(),
  usage: usage.nullish(),
  error: z.unknown().nullish(),
});

export type InputItem = z.infer<typeof inputItem>;
export type MessageItem = z.infer<typeof messageItem>;
export type FunctionCallItem = z.infer<typeof functionCallItem>;
export type FunctionCallOutputItem = z.infer<typeof functionCallOutputItem>;
export type ReasoningItem = z.infer<typeof reasoningItem>;
export type FunctionTool = z.infer<typeof functionTool>;
export type ResponseCreateParams = z.infer<typeof responseCreateParams>;
export type Usage = z.infer<typeof usage>;
export type OutputItem = z.infer<typeof outputItem>;
export type Response = z.infer<typeof response>;
