/**
 * Reading a verify request's `response.output` the way NeMo Gym's resources servers do: the
 * assistant message texts, the function calls, and the last `\boxed{...}` of a text. Shared by
 * the ported environments so each server keeps only its own grading rule.
 */

type Item = Record<string, unknown>;

/** `output_text` parts of assistant message items, in order. */
export function assistantTexts(output: readonly Item[]): string[] {
  const texts: string[] = [];
  for (const o of output) {
    if (o.type !== "message" || (o.role !== undefined && o.role !== "assistant")) continue;
    if (typeof o.content === "string") texts.push(o.content);
    else if (Array.isArray(o.content)) {
      for (const c of o.content as Item[]) if (typeof c.text === "string") texts.push(c.text);
    }
  }
  return texts;
}

export interface FunctionCall {
  name: string;
  arguments: string;
}

export function functionCalls(output: readonly Item[]): FunctionCall[] {
  return output
    .filter((o) => o.type === "function_call")
    .map((o) => ({ name: String(o.name), arguments: String(o.arguments) }));
}

/** JSON.parse that returns undefined instead of throwing: model-written arguments are often broken. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The exact contents of the last complete `\boxed{...}` (braces balanced), or null: math_with_judge's
 * `_extract_last_boxed_answer`. The opening brace is found with lastIndexOf, so a last `\boxed{`
 * left unclosed gives null even if an earlier one was complete, as in NeMo Gym.
 */
export function lastBoxed(text: string): string | null {
  const start = text.lastIndexOf("\\boxed{");
  if (start < 0) return null;
  let depth = 1;
  for (let i = start + "\\boxed{".length; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(start + "\\boxed{".length, i);
  }
  return null;
}
