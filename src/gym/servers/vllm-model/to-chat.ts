/**
 * Responses create params → Chat Completions params (NeMo Gym `responses_converter.py`
 * `responses_to_chat_completion_create_params`, plus vllm_model's reasoning handling):
 * - a string input is one user message;
 * - consecutive model items (reasoning, assistant message, function_call) become ONE assistant
 *   message: `<think>summary</think>` per reasoning summary + the text, tool_calls from the calls,
 *   and — when token ids are on — the token bundle of the last item of the group that has one,
 *   so the policy server can splice the exact earlier tokens (on-policy prefix);
 * - function_call_output → a tool message; instructions → a leading system message, merged with
 *   leading system/developer messages ("\n\n");
 * - max_output_tokens → max_tokens, reasoning.effort → reasoning_effort, function tools → chat
 *   tools; without tools, tool_choice and parallel_tool_calls are dropped.
 * With `usesReasoningParser`, think blocks move from content into `reasoning_content` (and
 * `reasoning` too with `usesInterleavedReasoning`), as vLLM's reasoning parser expects.
 */
import { HttpError } from "../../http/errors.ts";
import type { ChatMessage } from "../../protocol/chat.ts";
import type { InputItem, ResponseCreateParams } from "../../protocol/responses.ts";
import { readWireBundle, toWireBundle, type TokenBundle } from "../../protocol/tokens.ts";
import { splitThink, wrapThink } from "./reasoning.ts";

export interface ToChatOptions {
  returnTokenIdInformation: boolean;
  usesReasoningParser: boolean;
  usesInterleavedReasoning?: boolean;
  preserveReasoningInAssistantContent?: boolean;
  replaceDeveloperRoleWithSystem?: boolean;
}

type Part = { type: string; [k: string]: unknown };

export function responsesToChatParams(params: ResponseCreateParams, opts: ToChatOptions): Record<string, unknown> {
  const messages = itemsToMessages(typeof params.input === "string" ? [{ role: "user", content: params.input }] : params.input, opts);
  if (params.instructions) mergeInstructions(messages, params.instructions);
  if (opts.replaceDeveloperRoleWithSystem) for (const m of messages) if (m.role === "developer") m.role = "system";

  const out: Record<string, unknown> = { messages };
  const tools = (params.tools ?? []).map(toChatTool);
  if (tools.length > 0) {
    out.tools = tools;
    if (params.tool_choice != null) out.tool_choice = toChatToolChoice(params.tool_choice);
    if (params.parallel_tool_calls != null) out.parallel_tool_calls = params.parallel_tool_calls;
  } else if (params.tool_choice === "required") {
    throw new HttpError(400, "tool_choice 'required' needs at least one tool");
  }
  if (params.max_output_tokens != null) out.max_tokens = params.max_output_tokens;
  if (params.reasoning?.effort != null) out.reasoning_effort = params.reasoning.effort;
  for (const k of ["temperature", "top_p", "top_logprobs", "user"] as const) if (params[k] != null) out[k] = params[k];
  return out;
}

function itemsToMessages(items: readonly InputItem[] | readonly Record<string, unknown>[], opts: ToChatOptions): ChatMessage[] {
  const messages: ChatMessage[] = [];
  let group: { reasoning: string[]; text: string[]; toolCalls: ChatMessage["tool_calls"] & object; bundle?: TokenBundle } | undefined;

  const flush = () => {
    if (!group) return;
    const m: ChatMessage = { role: "assistant", content: "" };
    const text = group.text.join("");
    if (group.reasoning.length > 0 && opts.usesReasoningParser && !opts.preserveReasoningInAssistantContent) {
      m.reasoning_content = group.reasoning.join("\n");
      if (opts.usesInterleavedReasoning) m.reasoning = m.reasoning_content;
      m.content = text;
    } else {
      m.content = group.reasoning.map(wrapThink).join("") + text;
    }
    if (group.toolCalls.length > 0) m.tool_calls = group.toolCalls;
    if (opts.returnTokenIdInformation && group.bundle) Object.assign(m, toWireBundle(group.bundle));
    messages.push(m);
    group = undefined;
  };
  const inGroup = () => (group ??= { reasoning: [], text: [], toolCalls: [] });
  const takeBundle = (item: Record<string, unknown>) => {
    const b = readWireBundle(item);
    if (b && "error" in b) throw new HttpError(400, b.error);
    if (b) inGroup().bundle = b;
  };

  for (const raw of items) {
    const item = raw as Record<string, unknown> & { type?: string; role?: string };
    const type = item.type ?? (item.role ? "message" : undefined);
    if (type === "reasoning") {
      const g = inGroup();
      for (const s of (item.summary as { text: string }[]) ?? []) g.reasoning.push(s.text);
      takeBundle(item);
    } else if (type === "function_call") {
      inGroup().toolCalls.push({ id: String(item.call_id), type: "function", function: { name: String(item.name), arguments: String(item.arguments) } });
      takeBundle(item);
    } else if (type === "message" && item.role === "assistant") {
      const text = contentText(item.content as string | Part[]);
      const { reasoning, rest } = splitThink(text);
      const g = inGroup();
      g.reasoning.push(...reasoning);
      g.text.push(rest);
      takeBundle(item);
    } else if (type === "message") {
      flush();
      messages.push({ role: item.role as ChatMessage["role"], content: toChatContent(item.content as string | Part[]) });
    } else if (type === "function_call_output") {
      flush();
      messages.push({ role: "tool", tool_call_id: String(item.call_id), content: contentText(item.output as string | Part[], true) });
    } else {
      throw new HttpError(400, `input item type '${String(type)}' cannot be sent to a chat completions backend`);
    }
  }
  flush();
  return messages;
}

/** Text of string-or-parts content; tool outputs accept only text parts (NeMo Gym: input_text). */
function contentText(content: string | Part[], textOnly = false): string {
  if (typeof content === "string") return content;
  return content
    .map((p) => {
      if (typeof p.text === "string" && (p.type === "input_text" || p.type === "output_text" || p.type === "text")) return p.text;
      if (p.type === "refusal" && typeof p.refusal === "string" && !textOnly) return p.refusal;
      throw new HttpError(400, `content part type '${p.type}' is not supported here`);
    })
    .join("");
}

function toChatContent(content: string | Part[]): ChatMessage["content"] {
  if (typeof content === "string") return content;
  return content.map((p) => {
    if (p.type === "input_text" || p.type === "output_text" || p.type === "text") return { type: "text", text: p.text };
    if (p.type === "input_image") return { type: "image_url", image_url: { url: p.image_url ?? p.url, ...(p.detail ? { detail: p.detail } : {}) } };
    if (p.type === "input_video") return { type: "video_url", video_url: { url: p.video_url ?? p.url } };
    throw new HttpError(400, `content part type '${p.type}' is not supported by the chat completions backend`);
  });
}

function mergeInstructions(messages: ChatMessage[], instructions: string): void {
  let n = 0;
  const parts = [instructions];
  while (n < messages.length && (messages[n].role === "system" || messages[n].role === "developer")) {
    parts.push(contentText(messages[n].content as string | Part[]));
    n++;
  }
  messages.splice(0, n, { role: "system", content: parts.join("\n\n") });
}

function toChatTool(t: Record<string, unknown>): Record<string, unknown> {
  if (t.type !== "function") throw new HttpError(400, `tool type '${String(t.type)}' is not supported by the chat completions backend`);
  const fn: Record<string, unknown> = { name: t.name };
  if (t.description != null) fn.description = t.description;
  if (t.parameters != null) fn.parameters = t.parameters;
  return { type: "function", function: fn };
}

function toChatToolChoice(c: unknown): unknown {
  if (typeof c === "string") return c;
  const o = c as { type?: string; name?: string };
  if (o.type === "function" && o.name) return { type: "function", function: { name: o.name } };
  return c;
}
