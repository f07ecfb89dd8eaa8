/**
 * string_match's answer extraction and grading, ported from NeMo Gym
 * `resources_servers/string_match/app.py` (NeMo RL's string-match verifier without the format
 * reward). Grading tries, in order: equality after NFKC + outer quotes + lowercase + trailing
 * punctuation; equal as floats; thousands separators; LaTeX wrappers removed; list separators;
 * US state names; a soft numeric grade (0.98 when within ~1 % relative error); units stripped.
 * Python's float() and str.splitlines() are emulated where the answer depends on them.
 */

export type ExtractionMode = "boxed" | "final_answer" | "last_line" | "full_response";

const TEXT_WRAP = /^\\text\{\s*([\s\S]*?)\s*\}$/;
const FINAL_ANSWER = /(?:final\s+answer|answer)\s*[:：]\s*(.+)/gi;
// Python's str.splitlines() boundaries, file/group/record separators included.
// eslint-disable-next-line no-control-regex
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;
const MATH_UNITS = /\^\{?\\circ\}?|\\circ|°|cm[²³]?|mm|km|m[²³]?|kg/g;

function stripTextWrappers(s: string): string {
  for (let m = TEXT_WRAP.exec(s); m; m = TEXT_WRAP.exec(s)) s = m[1];
  return s;
}

/** The last `\boxed{...}` that closes, trimmed and unwrapped from `\text{}`. */
function extractBoxed(text: string): string | null {
  const starts = [...text.matchAll(/\\boxed\{/g)].map((m) => m.index + m[0].length);
  for (const start of starts.reverse()) {
    let depth = 1;
    for (let i = start; i < text.length; i++) {
      if (text[i] === "{") depth++;
      else if (text[i] === "}") depth--;
      if (depth === 0) return stripTextWrappers(text.slice(start, i).trim()).trim();
    }
  }
  return null;
}

function extractFinalAnswer(text: string): string | null {
  const matches = [...text.matchAll(FINAL_ANSWER)];
  if (matches.length === 0) return null;
  const raw = matches[matches.length - 1][1].trim();
  return raw.replace(/\.\s*$/, "").trim().replace(/\.+$/, "");
}

function extractLastLine(text: string): string | null {
  for (const line of text.split(LINE_BREAK).reverse()) if (line.trim()) return line.trim();
  return null;
}

export function extractAnswer(text: string, mode: ExtractionMode): string | null {
  if (mode === "boxed") return extractBoxed(text);
  if (mode === "final_answer") return extractFinalAnswer(text) ?? extractBoxed(text);
  if (mode === "last_line") return extractLastLine(text);
  if (mode === "full_response") return text.trim() || null;
  return null;
}

/** Python's float(): underscores between digits, inf/nan words; undefined where it raises. */
function pyFloat(s: string): number | undefined {
  const t = s.trim();
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  const digits = String.raw`\d(?:_?\d)*`;
  const re = new RegExp(`^[+-]?(?:${digits}(?:\\.(?:${digits})?)?|\\.${digits})(?:[eE][+-]?${digits})?$`);
  return re.test(t) ? Number(t.replaceAll("_", "")) : undefined;
}

/** `_normalize_float(a) == _normalize_float(b)` without printing Python float reprs. */
function equalAsFloats(a: string, b: string): boolean {
  const clean = (s: string) => s.replaceAll("\\%", "").replaceAll("\\$", "").replaceAll("$", "").trim();
  const x = pyFloat(clean(a));
  const y = pyFloat(clean(b));
  if (x === undefined || y === undefined) return x === undefined && y === undefined && a === b;
  return x === y || (Number.isNaN(x) && Number.isNaN(y)); // str(nan) == str(nan)
}

const normalizeNumbers = (t: string) => t.replace(/(\d+),(\d+)/g, "$1$2").replaceAll("\\%", "%");

function normalizeLists(text: string): string {
  const t = text.replaceAll(",", " ").replaceAll(";", " ").replaceAll("and", " ").replaceAll("or", " ");
  return t.length < 0.9 * text.length ? text : t.split(/\s+/).filter(Boolean).join(" ");
}

const LATEX_COMMANDS = ["\\boxed", "\\text", "\\textbf", "\\textit", "\\texttt", "\\mathrm", "\\mathbf", "\\mathit", "\\mathsf", "\\mathbb", "\\mathcal", "\\emph", "\\url"];

/** `cmd{x}` → `x`, braces balanced; an unclosed `cmd{` is dropped. */
function removeLatexCommand(cmd: string, text: string): string {
  while (text.includes(cmd + "{")) {
    const at = text.indexOf(cmd + "{");
    const prefix = text.slice(0, at);
    const suffix = text.slice(at + cmd.length + 1);
    let depth = 1;
    let closed = false;
    for (let i = 0; i < suffix.length; i++) {
      if (suffix[i] === "{") depth++;
      else if (suffix[i] === "}") depth--;
      if (depth === 0) {
        text = prefix + suffix.slice(0, i) + suffix.slice(i + 1);
        closed = true;
        break;
      }
    }
    if (!closed) text = prefix + suffix;
  }
  return text;
}

function normalizeLatex(text: string): string {
  for (const cmd of LATEX_COMMANDS) text = removeLatexCommand(cmd, text);
  for (const token of ["\\(", "\\)", "\\[", "\\]", "$"]) text = text.replaceAll(token, "");
  return text.split(/\s+/).filter(Boolean).join(" ");
}

const STATES: [string, string][] = Object.entries({
  "district of columbia": "DC", "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
  "north carolina": "NC", "north dakota": "ND", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
  "west virginia": "WV", alabama: "AL", alaska: "AK", arizona: "AZ", arkansas: "AR", california: "CA", colorado: "CO",
  connecticut: "CT", delaware: "DE", florida: "FL", georgia: "GA", hawaii: "HI", idaho: "ID", illinois: "IL",
  indiana: "IN", iowa: "IA", kansas: "KS", kentucky: "KY", louisiana: "LA", maine: "ME", maryland: "MD",
  massachusetts: "MA", michigan: "MI", minnesota: "MN", mississippi: "MS", missouri: "MO", montana: "MT",
  nebraska: "NE", nevada: "NV", ohio: "OH", oklahoma: "OK", oregon: "OR", pennsylvania: "PA", tennessee: "TN",
  texas: "TX", utah: "UT", vermont: "VT", virginia: "VA", washington: "WA", wisconsin: "WI", wyoming: "WY",
});

function normalizeStates(text: string): string {
  for (const [name, abbr] of STATES) text = text.replaceAll(name, abbr);
  return normalizeLists(text).toLowerCase();
}

const UNICODE_MATH: [string, string][] = [
  ["°", "^\\circ"], ["²", "^2"], ["³", "^3"], ["⁴", "^4"], ["⁵", "^5"], ["⁶", "^6"], ["⁷", "^7"], ["⁸", "^8"], ["⁹", "^9"],
  ["√", "\\sqrt"], ["﹣", "-"], ["﹢", "+"], ["﹦", "="], ["﹤", "<"], ["﹥", ">"], ["：", ":"], ["π", "\\pi"],
];
function normalizeUnicodeMath(text: string): string {
  for (const [from, to] of UNICODE_MATH) text = text.replaceAll(from, to);
  return text;
}

function stripNumeric(text: string): string {
  for (const ch of "$£€%,") text = text.replaceAll(ch, "");
  text = normalizeUnicodeMath(text).replace(MATH_UNITS, "");
  return text.replaceAll("\\%", "").replaceAll("\\$", "").trim();
}

function softNumericGrade(gt: string, pred: string): number {
  const p = pyFloat(stripNumeric(pred));
  const g = pyFloat(stripNumeric(gt));
  if (p === undefined || g === undefined) return 0.0;
  const rel = Math.abs(p - g) / Math.max(Math.abs(g), 1e-9);
  return Math.max(0.0, 1.0 - rel) ** 2;
}

const stripOuterQuotes = (t: string) => (t.length >= 2 && t[0] === t[t.length - 1] && `"'`.includes(t[0]) ? t.slice(1, -1) : t);
const stripTrailingPunctuation = (t: string) => t.replace(/[.!?]+$/, "") || t;

/** `_grade_string_match`: 1.0, 0.98 (numerically close) or 0.0. */
export function gradeStringMatch(gtAnswer: string, predAnswer: string): number {
  const prep = (s: string) => stripTrailingPunctuation(stripOuterQuotes(s.normalize("NFKC")).toLowerCase());
  const pred = prep(predAnswer);
  const gt = prep(gtAnswer);
  if (pred === gt) return 1.0;
  if (equalAsFloats(pred, gt)) return 1.0;
  if (normalizeNumbers(pred) === normalizeNumbers(gt)) return 1.0;
  if (normalizeLatex(pred) === normalizeLatex(gt)) return 1.0;
  if (normalizeLists(pred) === normalizeLists(gt)) return 1.0;
  if (normalizeStates(pred) === normalizeStates(gt)) return 1.0;
  if (softNumericGrade(gt, pred) > 0.98) return 0.98;
  const strip = (s: string) => normalizeUnicodeMath(normalizeLatex(s)).replace(MATH_UNITS, "").trim();
  if (strip(pred) === strip(gt)) return 1.0;
  if (softNumericGrade(strip(gt), strip(pred)) > 0.98) return 0.98;
  return 0.0;
}

export function answersMatch(extracted: string, expected: string, caseSensitive: boolean): number {
  if (caseSensitive) return extracted.trim() === expected.trim() ? 1.0 : 0.0;
  return gradeStringMatch(expected, extracted);
}
