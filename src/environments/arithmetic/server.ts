/**
 * arithmetic: a single-turn, learnable environment for the tiny demo model. The model answers
 * "What is 47+85?" with `\boxed{132}`; reward 1.0 when the last boxed integer equals
 * `expected_answer`. Tasks and demonstrations: tasks.ts; data files: write-data.ts.
 */
import { defineResourcesServer } from "../../gym/servers/resources/define.ts";
import { assistantTexts, lastBoxed } from "../_shared/response-text.ts";

/** The boxed integer, or null: a rigid format, so "132.0" or "1,32" is wrong. */
export function boxedInteger(text: string): string | null {
  const boxed = lastBoxed(text)?.trim() ?? null;
  return boxed !== null && /^-?\d+$/.test(boxed) ? boxed : null;
}

export default defineResourcesServer({
  name: "ArithmeticResourcesServer",
  reverifyMode: "stateless",
  verify: (body) => {
    const extracted = boxedInteger(assistantTexts(body.response.output).join("\n"));
    const expected = String(body.expected_answer);
    const correct = extracted !== null && BigInt(extracted) === BigInt(expected);
    return { reward: correct ? 1.0 : 0.0, expected_answer: expected, extracted_answer: extracted };
  },
});
