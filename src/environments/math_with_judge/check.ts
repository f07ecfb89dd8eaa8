/**
 * The `\boxed{}` answer checker standing in for math_verify (SymPy) in math_with_judge: the last
 * complete `\boxed{...}` of the response, parsed exactly (parse.ts) and compared with the expected
 * answer; when either side is outside what the parser covers, the two normalized texts are
 * compared instead. See README.md for what it does not cover.
 */
import { lastBoxed } from "../_shared/response-text.ts";
import { equal, sympyStr, Unsupported, type QSqrt } from "./exact.ts";
import { normalizeAnswerText, parseExact } from "./parse.ts";

export interface CheckResult {
  /** 1.0 or 0.0: math_with_judge's `library_reward`. */
  reward: number;
  /** The prediction as math_verify would print it where that is clear, else the boxed text; null with no box. */
  extracted: string | null;
}

function tryParse(text: string): QSqrt | undefined {
  try {
    return parseExact(text);
  } catch (e) {
    if (e instanceof Unsupported || e instanceof RangeError) return undefined;
    throw e;
  }
}

/** NeMo Gym's `_strip_math_delimiters`: expected answers often come as `\(...\)` or `$...$`. */
export function stripMathDelimiters(s: string): string {
  s = s.trim();
  if (s.startsWith("\\(") && s.endsWith("\\)")) s = s.slice(2, -2).trim();
  if (s.startsWith("$") && s.endsWith("$") && s.length > 1) s = s.slice(1, -1).trim();
  return s;
}

export function checkBoxedAnswer(expectedAnswer: string, responseText: string): CheckResult {
  const boxed = lastBoxed(responseText);
  if (boxed === null || !boxed.trim()) return { reward: 0.0, extracted: null };
  const gold = tryParse(stripMathDelimiters(expectedAnswer));
  const pred = tryParse(boxed);
  if (gold && pred) return { reward: equal(gold, pred) ? 1.0 : 0.0, extracted: sympyStr(pred) ?? boxed };
  const same = normalizeAnswerText(stripMathDelimiters(expectedAnswer)) === normalizeAnswerText(boxed);
  return { reward: same ? 1.0 : 0.0, extracted: pred ? (sympyStr(pred) ?? boxed) : boxed };
}
