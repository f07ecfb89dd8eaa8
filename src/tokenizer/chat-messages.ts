/**
 * What vLLM does to a chat request before the template sees it (vLLM `chat_utils.py`): content
 * `null` becomes "" and text parts are joined with "\n"; tool-call `arguments` (JSON strings) are
 * parsed to objects ("" → {}); tools are dumped as pydantic dumps them, a missing description or
 * parameters as null. A "developer" message renders as "system" (Qwen3's template would drop it).
 */
import { ChatTemplateError } from "./errors.ts";
import type { ChatMessage, ChatTool } from "./types.ts";

/** A message as the template sees it: content a string, tool-call arguments an object. */
export interface TemplateMessage {
  role: string;
  content: string;
  name?: string;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: unknown } }[];
  tool_call_id?: string;
  reasoning_content?: string | null;
}

export function contentText(content: ChatMessage["content"]): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return content.map((part) => part.text).join("\n");
}

export function toTemplateMessages(messages: readonly ChatMessage[]): TemplateMessage[] {
  return messages.map((m, i) => {
    const out: TemplateMessage = { role: m.role === "developer" ? "system" : m.role, content: contentText(m.content) };
    if (m.name !== undefined) out.name = m.name;
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    if (m.reasoning_content !== undefined) out.reasoning_content = m.reasoning_content;
    if (m.tool_calls) {
      out.tool_calls = m.tool_calls.map((call, j) => ({
        id: call.id,
        type: call.type ?? "function",
        function: { name: call.function.name, arguments: parseArguments(call.function.arguments, i, j) },
      }));
    }
    return out;
  });
}

/** vLLM's parse of a tool call's `arguments`: JSON text → a value ("" → {}), anything else as given. */
export function parseArguments(args: unknown, i: number, j: number): unknown {
  if (typeof args !== "string") return args ?? {}; // already a mapping (or missing)
  if (args.trim() === "") return {};
  try {
    return JSON.parse(args);
  } catch {
    throw new ChatTemplateError(`messages[${i}].tool_calls[${j}].function.arguments is not valid JSON: ${args}`);
  }
}

export function toTemplateTools(tools: readonly ChatTool[]): unknown[] {
  return tools.map((tool) => {
    const { type, function: fn, ...topExtra } = tool;
    const { name, description, parameters, ...fnExtra } = fn;
    return {
      type: type ?? "function",
      function: { name, description: description ?? null, parameters: parameters ?? null, ...fnExtra },
      ...topExtra,
    };
  });
}
