import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { joinReasoning, splitReasoning, THINK_END, THINK_START } from "./reasoning-parser.ts";

/** Text from an alphabet rich in tag fragments. */
const tagText = fc.string({
  unit: fc.oneof(
    fc.constantFrom(THINK_START, THINK_END, "<think", "think>", "</", "\n", " "),
    fc.string({ unit: "binary", maxLength: 2 }),
  ),
  maxLength: 10,
});
const withoutEnd = tagText.filter((s) => !s.includes(THINK_END));

describe("splitReasoning / joinReasoning", () => {
  it("splits a complete think block, keeping whitespace", () => {
    expect(splitReasoning("<think>\nplan\n</think>\n\nanswer")).toEqual({
      kind: "complete",
      reasoning: "\nplan\n",
      content: "\n\nanswer",
    });
  });

  it("takes text before </think> as reasoning when <think> was in the prompt", () => {
    expect(splitReasoning("plan</think>answer")).toEqual({ kind: "complete", reasoning: "plan", content: "answer" });
  });

  it("reports an unterminated block (output stopped inside the reasoning)", () => {
    expect(splitReasoning("<think>\nstill thinking")).toEqual({ kind: "unterminated", reasoning: "\nstill thinking" });
  });

  it("leaves output without think tags as content (enable_thinking: false)", () => {
    expect(splitReasoning("just the answer")).toEqual({ kind: "none", content: "just the answer" });
    expect(splitReasoning("a <think> inside")).toEqual({ kind: "none", content: "a <think> inside" });
  });

  it("property: <think>R</think>C splits into R and C, and joins back", () => {
    fc.assert(
      fc.property(withoutEnd, tagText, (r, c) => {
        const text = `${THINK_START}${r}${THINK_END}${c}`;
        const split = splitReasoning(text);
        expect(split).toEqual({ kind: "complete", reasoning: r, content: c });
        expect(joinReasoning(split)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it("property: join(split(t)) === t whenever t starts at <think> or has no </think>", () => {
    fc.assert(
      fc.property(tagText, (t) => {
        fc.pre(t.startsWith(THINK_START) || !t.includes(THINK_END));
        expect(joinReasoning(splitReasoning(t))).toBe(t);
      }),
      { numRuns: 300 },
    );
  });
});
