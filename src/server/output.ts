/**
 * Generated text → the assistant message fields (content, reasoning_content, tool_calls), and the
 * streaming view of the same: which part of the text so far is safe to emit as a delta.
 */

export interface ParsedToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ParsedAssistantOutput {
  content: string | null;
  reasoningContent: string | null;
  toolCalls: ParsedToolCall[];
}

/** What the server needs of the tokenizer layer's output parsers. */
export interface OutputParser {
  parse(text: string, options: { parseToolCalls: boolean; parseReasoning: boolean }): ParsedAssistantOutput;
  /** The family's streaming hold-back (Llama 3's JSON calls); absent: `streamablePrefix` below (Qwen3's markers). */
  streamablePrefix?(text: string, parseToolCalls: boolean): string;
}

/** Markers whose partial appearance at the end of streamed text must be held back. */
const MARKERS = ["<think>", "</think>", "<tool_call>"];

/**
 * The longest prefix of partial generated text that is safe to parse and stream: it stops before
 * an unfinished UTF-8 character, an unfinished marker, and (when tool calls are parsed) the first
 * <tool_call>, whose block is only emitted once the generation has ended.
 */
export function streamablePrefix(text: string, parseToolCalls: boolean): string {
  // An incomplete multi-byte character decodes as U+FFFD; wait for its remaining bytes.
  let safe = text.replace(/\uFFFD+$/, "");
  if (parseToolCalls) {
    const call = safe.indexOf("<tool_call>");
    if (call >= 0) return safe.slice(0, call);
  }
  for (const m of MARKERS) {
    for (let k = m.length - 1; k > 0; k--) {
      if (safe.endsWith(m.slice(0, k))) {
        safe = safe.slice(0, safe.length - k);
        break;
      }
    }
  }
  return safe;
}
