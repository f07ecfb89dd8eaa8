/**
 * mcqa, ported from NeMo Gym `resources_servers/mcqa/app.py` (MCQAResourcesServer): the answer
 * letter of a multiple-choice question, graded by the row's `grading_mode`:
 *   strict_single_letter_boxed (default)  the first `\boxed{..X..}` holding one uppercase letter
 *   lenient_boxed                         that, else the one option whose text is in the first box
 *   lenient_answer_colon                  `Answer: X` or `Answer: <option text>`
 * against `expected_answer`; options are the row's `options: [{"A": "text"}, ...]`.
 * Fields: reward, expected_answer (upper-cased), extracted_answer (letter or null).
 */
import { defineResourcesServer } from "../../gym/servers/resources/define.ts";
import { assistantTexts } from "../_shared/response-text.ts";

type Options = Record<string, string>[] | null | undefined;

// The Python patterns, as they are (JS and Python agree on these constructs).
const STRICT_BOXED = /\\boxed\{\s*[^A-Za-z]*([A-Z])[^A-Za-z]*\s*\}/;
const BOXED_CONTENT = /\\boxed\{\s*([\s\S]*?)\s*\}/;
const TEXT_WRAP = /^\\text\{\s*([\s\S]*?)\s*\}$/;
const ANSWER_COLON = /answer\s*:\s*(.+)/i;

const isSingleLetter = (k: string) => /^\p{L}$/u.test(k);
const normalize = (s: string) => s.toLowerCase().split(/\s+/).filter(Boolean).join(" ");

function stripTextWrappers(s: string): string {
  for (let m = TEXT_WRAP.exec(s); m; m = TEXT_WRAP.exec(s)) s = m[1];
  return s;
}

/** Upper-cased first key of each option entry, when it is one letter (`_get_allowed_letters_from_options`). */
function allowedLetters(options: Options): Set<string> {
  const letters = new Set<string>();
  for (const entry of options ?? []) {
    const k = Object.keys(entry)[0];
    if (k !== undefined && isSingleLetter(k)) letters.add(k.toUpperCase());
  }
  return letters;
}

function strictBoxed(text: string, allowed: Set<string>): string | null {
  const m = STRICT_BOXED.exec(text);
  return m && allowed.has(m[1].toUpperCase()) ? m[1].toUpperCase() : null;
}

/** The letter of the one option whose normalized text is inside the first box; null if none or several. */
function optionInBox(text: string, options: Options, allowed: Set<string>): string | null {
  const boxed = BOXED_CONTENT.exec(text);
  if (!boxed) return null;
  const candidates = [boxed[1], stripTextWrappers(boxed[1])].map(normalize);
  const opts: [string, string][] = [];
  for (const entry of options ?? []) {
    const k = Object.keys(entry).find((key) => key.length === 1 && allowed.has(key.toUpperCase()));
    if (k !== undefined) opts.push([k.toUpperCase(), normalize(entry[k])]);
  }
  const matched = new Set(opts.filter(([, o]) => o && candidates.some((c) => c.includes(o))).map(([l]) => l));
  return matched.size === 1 ? [...matched][0] : null;
}

function answerColon(text: string, options: Options, allowed: Set<string>): string | null {
  const m = ANSWER_COLON.exec(text);
  if (!m) return null;
  const candidate = stripTextWrappers(m[1]).trim();
  if (candidate.length === 1 && isSingleLetter(candidate) && allowed.has(candidate.toUpperCase())) return candidate.toUpperCase();
  for (const entry of options ?? []) {
    for (const [k, v] of Object.entries(entry)) {
      if (allowed.has(k.toUpperCase()) && normalize(v) === normalize(candidate)) return k.toUpperCase();
    }
  }
  return null;
}

export default defineResourcesServer({
  name: "MCQAResourcesServer",
  verify: (body) => {
    const text = assistantTexts(body.response.output).join("\n").trim();
    const options = body.options as Options;
    const allowed = allowedLetters(options);
    const mode = (body.grading_mode as string | undefined) ?? "strict_single_letter_boxed";
    let pred: string | null = null;
    if (mode === "strict_single_letter_boxed") pred = strictBoxed(text, allowed);
    else if (mode === "lenient_boxed") pred = strictBoxed(text, allowed) ?? optionInBox(text, options, allowed);
    else if (mode === "lenient_answer_colon") pred = answerColon(text, options, allowed);
    const gold = String(body.expected_answer ?? "").trim().toUpperCase();
    return { reward: pred !== null && gold !== "" && pred === gold ? 1.0 : 0.0, expected_answer: gold, extracted_answer: pred };
  },
});
