/**
 * Parse Llama 3.x JSON tool calls in model output into OpenAI `tool_calls` (vLLM's `llama3_json`
 * parser). Llama 3.1/3.2 templates render an assistant tool call as the whole message body:
 *
 *   {"name": "calculator", "parameters": {"expr": "315 * 3"}}
 *
 * optionally after `<|python_tag|>`, several calls separated by ";". A call is
 * `{id: "call_…", type: "function", function: {name, arguments}}` with `parameters` (or `arguments`)
 * re-serialized as Python's json.dumps does, as vLLM does.
 *
 * As vLLM: the output counts as tool calls only when it starts with `{` (or `<|python_tag|>`); then
 * it must be nothing but calls, else none of it is a call and the text stays the content, verbatim.
 * One difference: leading whitespace before the `{` is allowed here (vLLM treats " {" as content).
 * Failures are values (`malformed`), not errors.
 */
import { pyJsonDumps } from "./py-json.ts";
import { makeToolCallId, type ParseToolCallsOptions } from "./tool-call-parser.ts";
import type { ChatToolCall } from "./types.ts";

/** The token Llama 3.1 writes before a call in ipython mode; special, so decoding usually drops it. */
export const LLAMA3_PYTHON_TAG = "<|python_tag|>";

export type Llama3MalformedReason =
  | "invalid_json" // not a sequence of complete JSON values separated by ";"
  | "not_an_object"
  | "missing_name" // no non-empty string "name"
  | "missing_parameters" // neither "parameters" nor "arguments"
  | "parameters_not_object";

export interface Llama3ToolCallParse {
  /** The text when it holds no calls (verbatim); null when it is calls (or empty). */
  content: string | null;
  toolCalls: ChatToolCall[];
  /** Why text that looked like calls (starts with `{`) is left as content; null otherwise. */
  malformed: Llama3MalformedReason | null;
}

/** Whether `text` starts like a Llama 3 tool call: `{` or `<|python_tag|>` after optional whitespace. */
export function looksLikeLlama3ToolCall(text: string): boolean {
  const t = text.trimStart();
  return t.startsWith("{") || t.startsWith(LLAMA3_PYTHON_TAG);
}

export function parseLlama3ToolCalls(text: string, options: ParseToolCallsOptions = {}): Llama3ToolCallParse {
  const asContent = (malformed: Llama3MalformedReason | null): Llama3ToolCallParse => ({
    content: text === "" ? null : text,
    toolCalls: [],
    malformed,
  });
  if (!looksLikeLlama3ToolCall(text)) return asContent(null);
  let body = text.trimStart();
  if (body.startsWith(LLAMA3_PYTHON_TAG)) body = body.slice(LLAMA3_PYTHON_TAG.length);

  const makeId = options.makeId ?? makeToolCallId;
  const calls: ChatToolCall[] = [];
  let pos = skipSpace(body, 0);
  while (pos < body.length) {
    const end = jsonValueEnd(body, pos);
    if (end < 0) return asContent("invalid_json");
    let value: unknown;
    try {
      value = JSON.parse(body.slice(pos, end));
    } catch {
      return asContent("invalid_json");
    }
    const fn = callOf(value);
    if (typeof fn === "string") return asContent(fn);
    calls.push({ id: makeId(), type: "function", function: fn });
    pos = skipSpace(body, end);
    if (pos < body.length) {
      if (body[pos] !== ";") return asContent("invalid_json");
      pos = skipSpace(body, pos + 1);
    }
  }
  if (calls.length === 0) return asContent("invalid_json");
  return { content: null, toolCalls: calls, malformed: null };
}

function callOf(value: unknown): ChatToolCall["function"] | Llama3MalformedReason {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not_an_object";
  const obj = value as Record<string, unknown>;
  if (typeof obj.name !== "string" || obj.name === "") return "missing_name";
  // The template writes "parameters"; vLLM also accepts "arguments" (checked first, as vLLM does).
  const args = "arguments" in obj ? obj.arguments : "parameters" in obj ? obj.parameters : undefined;
  if (args === undefined) return "missing_parameters";
  if (typeof args !== "object" || args === null || Array.isArray(args)) return "parameters_not_object";
  return { name: obj.name, arguments: pyJsonDumps(args) };
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && /\s/.test(s[i])) i++;
  return i;
}

/**
 * End (exclusive) of the JSON object or array starting at `start`, found by matching brackets
 * outside strings (Python's raw_decode finds the same end for well-formed JSON); -1 when it never
 * closes. JSON.parse then checks the slice.
 */
function jsonValueEnd(s: string, start: number): number {
  if (s[start] !== "{" && s[start] !== "[") return -1;
  let depth = 0;
  let inString = false;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
