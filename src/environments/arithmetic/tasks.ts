/**
 * arithmetic's tasks: integer addition and subtraction with a few multi-digit operands, answered
 * as `\boxed{N}`. Difficulty = digits per operand and number of operands. Subtrahends never exceed
 * the running total, so answers are never negative (one less thing for a tiny model to learn).
 *
 * generateRows gives Gym rows (responses_create_params + expected_answer + agent_ref);
 * demonstrations gives the matching correct chat conversations for the supervised warm start.
 */
import { drawForSplit, randInt, type Split } from "../_shared/generate.ts";

export interface ArithmeticDifficulty {
  /** Digits per operand (1..9). */
  digits: number;
  /** Operands per question (2..6). */
  operands: number;
  /** Allowed operators. */
  ops: ("+" | "-")[];
}

export const DEFAULT_DIFFICULTY: ArithmeticDifficulty = { digits: 2, operands: 2, ops: ["+", "-"] };
export const AGENT_NAME = "arithmetic_simple_agent";

export interface ArithmeticTask {
  question: string; // "47+85-12"
  answer: number;
}

export function drawTask(rand: () => number, d: ArithmeticDifficulty): ArithmeticTask {
  const hi = 10 ** d.digits - 1;
  const lo = d.digits === 1 ? 0 : 10 ** (d.digits - 1);
  let total = randInt(rand, lo, hi);
  let question = `${total}`;
  for (let k = 1; k < d.operands; k++) {
    const op = d.ops[randInt(rand, 0, d.ops.length - 1)];
    const x = op === "-" ? randInt(rand, Math.min(lo, total), Math.min(hi, total)) : randInt(rand, lo, hi);
    total = op === "-" ? total - x : total + x;
    question += `${op}${x}`;
  }
  return { question, answer: total };
}

export const promptOf = (question: string) => `What is ${question}?`;
export const answerText = (answer: number) => `\\boxed{${answer}}`;

export interface GenerateOptions {
  split: Split;
  n: number;
  seed: number;
  difficulty?: Partial<ArithmeticDifficulty>;
}

function checkDifficulty(d: ArithmeticDifficulty): ArithmeticDifficulty {
  if (!(d.digits >= 1 && d.digits <= 9 && d.operands >= 2 && d.operands <= 6 && d.ops.length > 0)) {
    throw new Error(`arithmetic difficulty out of range: ${JSON.stringify(d)} (digits 1..9, operands 2..6, ops non-empty)`);
  }
  return d;
}

export function generateTasks(opts: GenerateOptions): ArithmeticTask[] {
  const d = checkDifficulty({ ...DEFAULT_DIFFICULTY, ...opts.difficulty });
  return drawForSplit(opts.split, opts.n, opts.seed, (rand) => drawTask(rand, d));
}

/** Gym rows: one user message, no tools; the task fields verify reads. */
export function generateRows(opts: GenerateOptions): Record<string, unknown>[] {
  return generateTasks(opts).map((t) => ({
    responses_create_params: { input: [{ role: "user", content: promptOf(t.question) }] },
    question: t.question,
    expected_answer: String(t.answer),
    agent_ref: { type: "responses_api_agents", name: AGENT_NAME },
  }));
}

/** Correct conversations in OpenAI chat shape, for the supervised warm start. */
export function demonstrations(opts: GenerateOptions): { messages: Record<string, unknown>[] }[] {
  return generateTasks(opts).map((t) => ({
    messages: [
      { role: "user", content: promptOf(t.question) },
      { role: "assistant", content: answerText(t.answer) },
    ],
  }));
}
