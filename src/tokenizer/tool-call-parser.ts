/**
 * Parse Hermes/Qwen tool-call blocks in model output into OpenAI `tool_calls`:
 *
 *   <tool_call>
 *   {"name": "calculator", "arguments": {"expr": "315 * 3"}}
 *   </tool_call>
 *
 * becomes `{id: "call_…", type: "function", function: {name: "calculator", arguments: '{"expr": "315 * 3"}'}}`,
 * the arguments re-serialized as Python's json.dumps does (vLLM's hermes parser). Verbatim: content
 * whitespace is kept as vLLM keeps it (assistant-output.ts may trim it).
 *
 * Differences from vLLM, which drops every call when one block fails: each block stands alone. A
 * malformed block (bad JSON, no name, arguments not an object) stays in the content word for word
 * and is reported in `malformed`. A block missing `</tool_call>` (output stopped) still counts
 * when its JSON is complete, as in vLLM.
 *
 * Content: the text before the first block, kept exactly (so "…step.\n<tool_call>" leaves "…step.\n",
 * as vLLM); after that, malformed blocks and non-blank text; blank text beside a parsed block is
 * dropped. Empty content is null.
 */
import { randomUUID } from "node:crypto";
import { pyJsonDumps } from "./py-json.ts";
import type { ChatToolCall } from "./types.ts";

export const TOOL_CALL_START = "<tool_call>";
export const TOOL_CALL_END = "</tool_call>";

export type MalformedReason =
  | "invalid_json" // the block's body is not JSON (or is cut off)
  | "not_an_object" // JSON, but not an object
  | "missing_name" // no non-empty string "name"
  | "missing_arguments" // no "arguments" key
  | "arguments_not_object"; // "arguments" is not a JSON object

export interface MalformedToolCall {
  reason: MalformedReason;
  /** The block as it appears in the output, tags included; it is also left in `content`. */
  raw: string;
  /** false when the output ended before `</tool_call>`. */
  terminated: boolean;
}

export interface ToolCallParse {
  content: string | null;
  toolCalls: ChatToolCall[];
  malformed: MalformedToolCall[];
}

export interface ParseToolCallsOptions {
  /** Id for each parsed call; default `call_` + 24 random hex digits. */
  makeId?: () => string;
}

export function makeToolCallId(): string {
  return `call_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
}

type Piece =
  | { kind: "text"; text: string }
  | { kind: "call"; raw: string; call: ChatToolCall }
  | { kind: "malformed"; raw: string; malformed: MalformedToolCall };

export function parseToolCalls(text: string, options: ParseToolCallsOptions = {}): ToolCallParse {
  const makeId = options.makeId ?? makeToolCallId;

  // Cut the text into text pieces and blocks, as vLLM's `<tool_call>(.*?)</tool_call>|<tool_call>(.*)`.
  const pieces: Piece[] = [];
  let pos = 0;
  while (pos <= text.length) {
    const start = text.indexOf(TOOL_CALL_START, pos);
    if (start < 0) {
      pieces.push({ kind: "text", text: text.slice(pos) });
      break;
    }
    pieces.push({ kind: "text", text: text.slice(pos, start) });
    const bodyStart = start + TOOL_CALL_START.length;
    const end = text.indexOf(TOOL_CALL_END, bodyStart);
    const terminated = end >= 0;
    const bodyEnd = terminated ? end : text.length;
    const raw = text.slice(start, terminated ? end + TOOL_CALL_END.length : text.length);
    const parsed = parseBlockBody(text.slice(bodyStart, bodyEnd));
    if (typeof parsed === "string") {
      pieces.push({ kind: "malformed", raw, malformed: { reason: parsed, raw, terminated } });
    } else {
      const call: ChatToolCall = { id: makeId(), type: "function", function: parsed };
      pieces.push({ kind: "call", raw, call });
    }
    if (!terminated) break;
    pos = end + TOOL_CALL_END.length;
  }

  const toolCalls = pieces.flatMap((p) => (p.kind === "call" ? [p.call] : []));
  const malformed = pieces.flatMap((p) => (p.kind === "malformed" ? [p.malformed] : []));
  if (toolCalls.length === 0) return { content: text === "" ? null : text, toolCalls, malformed };

  let content = "";
  pieces.forEach((p, i) => {
    if (p.kind === "call") return;
    if (p.kind === "malformed") content += p.raw;
    else if (i === 0 || p.text.trim() !== "") content += p.text;
    else if (pieces[i - 1].kind !== "call" && pieces[i + 1]?.kind !== "call") content += p.text;
  });
  return { content: content === "" ? null : content, toolCalls, malformed };
}

/** `{name, arguments}` of one block, or why it is malformed. */
function parseBlockBody(body: string): ChatToolCall["function"] | MalformedReason {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return "invalid_json";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not_an_object";
  const obj = value as Record<string, unknown>;
  if (typeof obj.name !== "string" || obj.name === "") return "missing_name";
  if (!("arguments" in obj)) return "missing_arguments";
  const args = obj.arguments;
  if (typeof args !== "object" || args === null || Array.isArray(args)) return "arguments_not_object";
  return { name: obj.name, arguments: pyJsonDumps(args) };
}
