/**
 * Split model output into reasoning and answer at Qwen3's `<think>` ... `</think>`, and join them
 * back. Verbatim: no whitespace is trimmed here (assistant-output.ts decides that).
 *
 * Follows vLLM's Qwen3 reasoning parser for this (original Qwen3) template, where the model writes
 * `<think>` itself:
 * - "<think>R</think>C" → complete: reasoning R, content C (a leading `<think>` is optional, for
 *   templates that put it in the prompt; text before `<think>` is dropped, as vLLM does);
 * - "<think>R" without `</think>` → unterminated: the output stopped inside the reasoning (length);
 * - no `</think>` and no leading `<think>` → none: all content (e.g. `enable_thinking: false`).
 */

export const THINK_START = "<think>";
export const THINK_END = "</think>";

export type ReasoningSplit =
  | { kind: "none"; content: string }
  | { kind: "complete"; reasoning: string; content: string }
  | { kind: "unterminated"; reasoning: string };

export function splitReasoning(text: string): ReasoningSplit {
  const end = text.indexOf(THINK_END);
  if (end < 0) {
    if (text.startsWith(THINK_START)) return { kind: "unterminated", reasoning: text.slice(THINK_START.length) };
    return { kind: "none", content: text };
  }
  const before = text.slice(0, end);
  const start = before.indexOf(THINK_START);
  return {
    kind: "complete",
    reasoning: start < 0 ? before : before.slice(start + THINK_START.length),
    content: text.slice(end + THINK_END.length),
  };
}

/** The inverse of splitReasoning: `joinReasoning(splitReasoning(t)) === t` for t starting at `<think>`. */
export function joinReasoning(split: ReasoningSplit): string {
  switch (split.kind) {
    case "none":
      return split.content;
    case "complete":
      return `${THINK_START}${split.reasoning}${THINK_END}${split.content}`;
    case "unterminated":
      return `${THINK_START}${split.reasoning}`;
  }
}
