/**
 * `<think>…</think>` blocks: how reasoning rides inside assistant text between the Responses items
 * (reasoning summaries) and chat messages (content or `reasoning_content`).
 */
const THINK = /<think>([\s\S]*?)<\/think>/g;

/** Split text into its think blocks and the rest (leading whitespace after the blocks trimmed). */
export function splitThink(text: string): { reasoning: string[]; rest: string } {
  const reasoning: string[] = [];
  const rest = text.replace(THINK, (_m, inner: string) => {
    reasoning.push(inner);
    return "";
  });
  return { reasoning, rest: reasoning.length > 0 ? rest.replace(/^\s+/, "") : rest };
}

export function wrapThink(reasoning: string): string {
  return `<think>${reasoning}</think>`;
}
