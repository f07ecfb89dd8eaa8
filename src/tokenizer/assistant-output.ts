/**
 * Model output text → an OpenAI assistant message: reasoning first (`<think>`), then tool calls in
 * what follows, as vLLM runs its reasoning parser before its tool parser. The inverse is rendering
 * the message with the chat template (chat-template.ts).
 *
 * Two styles, differing only in whitespace:
 * - "vllm" (default): as vLLM returns it. Reasoning and content keep the newlines the model wrote
 *   around `<think>`/`</think>`, and content keeps the "\n" before the first `<tool_call>`. Re-rendering
 *   such a message can differ from what the model wrote (the template adds its own "\n" before a tool
 *   call): the re-chat-templating drift that the prefix splice in src/server repairs.
 * - "canonical": the whitespace the Qwen3 template writes itself is removed (reasoning stripped of
 *   "\n", content left-stripped of "\n", one "\n" before the first tool call dropped), so rendering
 *   the parsed message gives back the model's text: render(parse(text)) === text for template-shaped
 *   output, and parse(render(m)) equals m for messages without edge newlines.
 */
import { splitReasoning, type ReasoningSplit } from "./reasoning-parser.ts";
import {
  parseToolCalls,
  TOOL_CALL_START,
  type MalformedToolCall,
  type ParseToolCallsOptions,
} from "./tool-call-parser.ts";
import type { ChatMessage } from "./types.ts";

export type ParseStyle = "vllm" | "canonical";

export interface ParseAssistantOptions extends ParseToolCallsOptions {
  style?: ParseStyle;
}

export interface AssistantOutput {
  message: ChatMessage & { role: "assistant" };
  /** Whether the output held a complete think block, an unfinished one, or none. */
  reasoning: ReasoningSplit["kind"];
  /** Tool-call blocks that did not parse; each is left verbatim in `message.content`. */
  malformedToolCalls: MalformedToolCall[];
}

export function parseAssistantOutput(text: string, options: ParseAssistantOptions = {}): AssistantOutput {
  const canonical = (options.style ?? "vllm") === "canonical";
  const split = splitReasoning(text);
  let reasoning: string | null = null;
  let rest: string | null;
  switch (split.kind) {
    case "none":
      rest = split.content;
      break;
    case "complete":
      reasoning = canonical ? stripNewlines(split.reasoning) : split.reasoning;
      rest = canonical ? split.content.replace(/^\n+/, "") : split.content;
      break;
    case "unterminated":
      reasoning = canonical ? stripNewlines(split.reasoning) : split.reasoning;
      rest = null;
      break;
  }

  const message: AssistantOutput["message"] = { role: "assistant", content: null };
  if (reasoning !== null) message.reasoning_content = reasoning;
  let malformedToolCalls: MalformedToolCall[] = [];
  if (rest !== null) {
    const parsed = parseToolCalls(rest, options);
    let content = parsed.content;
    if (canonical && content !== null && parsed.toolCalls.length > 0) {
      const firstCall = rest.indexOf(TOOL_CALL_START);
      // The template writes exactly one "\n" between content and the first call.
      if (content.length === firstCall && content.endsWith("\n")) content = content.slice(0, -1);
    }
    message.content = content === "" ? null : content;
    if (parsed.toolCalls.length > 0) message.tool_calls = parsed.toolCalls;
    malformedToolCalls = parsed.malformed;
  }
  return { message, reasoning: split.kind, malformedToolCalls };
}

function stripNewlines(s: string): string {
  return s.replace(/^\n+/, "").replace(/\n+$/, "");
}
