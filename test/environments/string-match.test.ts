/** string_match's grading beyond the recorded rollouts: each normalization step, and that grading can fail. */
import { describe, expect, test } from "vitest";
import { answersMatch, extractAnswer } from "../../src/environments/string_match/grade.ts";

describe("string_match", () => {
  test.each([
    ["Paris", "paris.", 1],
    ["80", "80.0", 1],
    ["1000", "1,000", 1],
    ["Paris", "\\text{Paris}", 1],
    ["apples, pears and plums", "apples pears plums", 1],
    ["New York", "NY", 1],
    ["100", "99.5", 0.98],
    ["45", "45°", 0.98], // the soft numeric grade comes before unit stripping, as in NeMo Gym
    ["Paris", "London", 0],
    ["10", "20", 0],
  ])("expected %s, answered %s → %d", (expected, answer, reward) => {
    expect(answersMatch(answer, expected, false)).toBe(reward);
  });

  test("case_sensitive compares exactly", () => {
    expect(answersMatch("paris", "Paris", true)).toBe(0);
    expect(answersMatch(" Paris ", "Paris", true)).toBe(1);
  });

  test("extraction modes", () => {
    expect(extractAnswer("so \\boxed{\\text{ A }} and \\boxed{B}", "boxed")).toBe("B");
    expect(extractAnswer("Answer: 3.\nFinal answer: 15.", "final_answer")).toBe("15");
    expect(extractAnswer("no marker \\boxed{7}", "final_answer")).toBe("7");
    expect(extractAnswer("a\n\nPacific Ocean\n  \n", "last_line")).toBe("Pacific Ocean");
    expect(extractAnswer("   ", "full_response")).toBeNull();
  });
});
