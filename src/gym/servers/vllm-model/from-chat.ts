/**
 * A chat completion → a Responses API response (NeMo Gym `chat_completion_to_response` and
 * `postprocess_assistant_message_dict`): reasoning (`reasoning_content`/`reasoning`, or inline
 * `<think>` blocks) → reasoning items; the remaining text → one assistant message (also when the
 * output would otherwise be empty); each tool call → a function_call item; the token bundle → the
 * LAST output item. finish_reason "length" → status incomplete, reason max_output_tokens.
 */
import { randomBytes } from "node:crypto";
import type { ChatCompletion } from "../../protocol/chat.ts";
import type { OutputItem, Response, ResponseCreateParams, Usage } from "../../protocol/responses.ts";
import { toWireBundle, type TokenBundle } from "../../protocol/tokens.ts";
import { splitThink, wrapThink } from "./reasoning.ts";

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString("hex")}`;
}

export function chatToOutputItems(completion: ChatCompletion, bundle?: TokenBundle): OutputItem[] {
  const message = completion.choices[0].message;
  const reasoningField = message.reasoning_content ?? message.reasoning ?? null;
  const content = typeof message.content === "string" ? message.content : (message.content ?? []).map((p) => String((p as { text?: string }).text ?? "")).join("");
  const { reasoning, rest } = splitThink((reasoningField ? wrapThink(reasoningField) : "") + content);

  const items: OutputItem[] = reasoning.map((text) => ({ id: newId("rs"), type: "reasoning", summary: [{ type: "summary_text", text }] }));
  const calls = message.tool_calls ?? [];
  if (rest !== "" || items.length + calls.length === 0) {
    items.push({ id: newId("msg"), type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: rest, annotations: [] }] });
  }
  for (const tc of calls) {
    items.push({ type: "function_call", id: tc.id, call_id: tc.id, name: tc.function.name, arguments: tc.function.arguments, status: "completed" });
  }
  if (bundle) Object.assign(items[items.length - 1], toWireBundle(bundle));
  return items;
}

export function chatUsageToResponses(u: ChatCompletion["usage"]): Usage {
  const input = u?.prompt_tokens ?? 0;
  const output = u?.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u?.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: u?.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: u?.total_tokens ?? input + output,
  };
}

const INCOMPLETE: Record<string, string> = { length: "max_output_tokens", content_filter: "content_filter" };

/** The response envelope: the request params echoed, like OpenAI's Response. */
export function buildResponse(params: ResponseCreateParams, model: string, output: OutputItem[], finishReason: string | null | undefined, usage: Usage, createdAt?: number): Response {
  const reason = finishReason ? INCOMPLETE[finishReason] : undefined;
  return {
    id: newId("resp"),
    object: "response",
    created_at: createdAt ?? Math.floor(Date.now() / 1000),
    model,
    output,
    status: reason ? "incomplete" : "completed",
    incomplete_details: reason ? { reason } : null,
    error: null,
    instructions: params.instructions ?? null,
    metadata: params.metadata ?? {},
    parallel_tool_calls: params.parallel_tool_calls ?? true,
    temperature: params.temperature ?? null,
    tool_choice: params.tool_choice ?? "auto",
    tools: params.tools ?? [],
    top_p: params.top_p ?? null,
    max_output_tokens: params.max_output_tokens ?? null,
    previous_response_id: params.previous_response_id ?? null,
    reasoning: params.reasoning ?? null,
    truncation: params.truncation ?? null,
    user: params.user ?? null,
    usage,
  };
}
