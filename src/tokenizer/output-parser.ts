/**
 * Output parsers by model family: generated text → assistant fields (content, reasoning, tool
 * calls), as vLLM's parsers for that family would return them.
 *
 * - qwen3: vLLM's `hermes` tool parser (`<tool_call>{…}</tool_call>`) and `qwen3` reasoning parser
 *   (`<think>…</think>`), see assistant-output.ts;
 * - llama3: vLLM's `llama3_json` tool parser (the whole output is `{"name", "parameters"}` calls,
 *   see llama3-tool-parser.ts); Llama 3 has no reasoning format, so there is no reasoning parser.
 */
import { parseAssistantOutput } from "./assistant-output.ts";
import { looksLikeLlama3ToolCall, parseLlama3ToolCalls } from "./llama3-tool-parser.ts";
import { splitReasoning } from "./reasoning-parser.ts";
import type { ChatToolCall } from "./types.ts";

export interface ParsedOutput {
  content: string | null;
  reasoningContent: string | null;
  toolCalls: ChatToolCall[];
}

export interface ChatOutputParser {
  /** vLLM's names for the parsers this one follows, e.g. "hermes+qwen3". */
  readonly name: string;
  /** `parseToolCalls`: tools were offered; `parseReasoning`: split reasoning from content. */
  parse(text: string, options: { parseToolCalls: boolean; parseReasoning: boolean }): ParsedOutput;
  /**
   * The longest prefix of partial output that is safe to stream as content, or absent to use the
   * server's default (Qwen3's markers).
   */
  streamablePrefix?(text: string, parseToolCalls: boolean): string;
}

export const qwen3OutputParser: ChatOutputParser = {
  name: "hermes+qwen3",
  parse(text, { parseToolCalls, parseReasoning }) {
    if (parseToolCalls) {
      const m = parseAssistantOutput(text).message;
      const content = typeof m.content === "string" ? m.content : null;
      return { content, reasoningContent: m.reasoning_content ?? null, toolCalls: m.tool_calls ?? [] };
    }
    // Tools were not offered: tool-call text stays in the content, exactly as generated.
    if (!parseReasoning) return { content: text, reasoningContent: null, toolCalls: [] };
    const split = splitReasoning(text);
    switch (split.kind) {
      case "none":
        return { content: split.content, reasoningContent: null, toolCalls: [] };
      case "complete":
        return { content: split.content === "" ? null : split.content, reasoningContent: split.reasoning, toolCalls: [] };
      case "unterminated":
        return { content: null, reasoningContent: split.reasoning, toolCalls: [] };
    }
  },
};

export const llama3OutputParser: ChatOutputParser = {
  name: "llama3_json",
  parse(text, { parseToolCalls }) {
    if (!parseToolCalls) return { content: text, reasoningContent: null, toolCalls: [] };
    const parsed = parseLlama3ToolCalls(text);
    return { content: parsed.content, reasoningContent: null, toolCalls: parsed.toolCalls };
  },
  streamablePrefix(text, parseToolCalls) {
    // An incomplete multi-byte character decodes as U+FFFD; wait for its remaining bytes.
    const safe = text.replace(/\uFFFD+$/, "");
    // With tools, output that is (or may become) a call is held back until the generation ends.
    if (parseToolCalls && (safe.trim() === "" || looksLikeLlama3ToolCall(safe))) return "";
    return safe;
  },
};
