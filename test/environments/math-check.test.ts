/**
 * math_with_judge's answer checker (the stand-in for math_verify): exact equality across forms,
 * LaTeX noise, the textual fallback, refusals that keep verify fast, and properties over random
 * rationals (a fraction equals its decimal and its reduced form; a different number never does).
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { checkBoxedAnswer } from "../../src/environments/math_with_judge/check.ts";

const boxed = (s: string) => `The answer is \\boxed{${s}}.`;

describe("checkBoxedAnswer", () => {
  test.each([
    ["32", "32", 1, "32"],
    ["\\(\\frac{333}{1997}\\)", "\\frac{83}{499}", 0, "83/499"],
    ["\\(\\sqrt{2}\\)", "\\sqrt{2}", 1, "sqrt(2)"],
    ["\\frac{\\sqrt{2}}{2}", "\\dfrac{1}{\\sqrt{2}}", 1, "sqrt(2)/2"],
    ["0.5", "\\frac12", 1, "1/2"],
    ["$-\\frac{3}{4}$", "-0.75", 1, "-3/4"],
    ["12", "2^2\\cdot 3", 1, "12"],
    ["1024", "2^10", 1, "1024"],
    ["2\\sqrt{3}", "\\sqrt{12}", 1, "2*sqrt(3)"],
    ["90", "90^\\circ", 1, "90"],
    ["\\left(5\\right)", "5", 1, "5"],
    ["x+1", "x + 1", 1, "x + 1"], // outside the parser: normalized text
    ["x+1", "1+x", 0, "1+x"], // ... which does not know algebra
    ["-3", "-4", 0, "-4"],
  ])("expected %s, boxed %s → %d", (expected, answer, reward, extracted) => {
    expect(checkBoxedAnswer(expected, boxed(answer))).toEqual({ reward, extracted });
  });

  test("no box, an empty box or an unclosed last box → 0 and no extraction", () => {
    expect(checkBoxedAnswer("1", "1")).toEqual({ reward: 0, extracted: null });
    expect(checkBoxedAnswer("1", "\\boxed{ }")).toEqual({ reward: 0, extracted: null });
    expect(checkBoxedAnswer("1", "\\boxed{1} then \\boxed{1")).toEqual({ reward: 0, extracted: null });
  });

  test("(2+√3)^2016-sized answers compare exactly; absurd exponents are refused quickly", () => {
    const t = performance.now();
    expect(checkBoxedAnswer("(1+\\sqrt{3})^{4033}", boxed("(1+\\sqrt{3})^{4032}(1+\\sqrt{3})")).reward).toBe(1);
    expect(checkBoxedAnswer("(1+\\sqrt{3})^{4033}", boxed("(1+\\sqrt{3})^{4032}")).reward).toBe(0);
    expect(checkBoxedAnswer("10", boxed("10^{100000000}")).reward).toBe(0);
    expect(performance.now() - t).toBeLessThan(2000);
  });

  test("property: p/q equals its reduced form and its decimal; p/q + 1 does not", () => {
    fc.assert(
      fc.property(fc.integer({ min: -10_000, max: 10_000 }), fc.constantFrom(1, 2, 4, 5, 8, 10, 20, 25), fc.integer({ min: 1, max: 9 }), (p, q, k) => {
        const decimal = (p / q).toString();
        expect(checkBoxedAnswer(decimal, boxed(`\\frac{${p * k}}{${q * k}}`)).reward).toBe(1);
        expect(checkBoxedAnswer(`\\frac{${p}}{${q}}`, boxed(`\\frac{${p + q}}{${q}}`)).reward).toBe(0);
      }),
    );
  });
});
