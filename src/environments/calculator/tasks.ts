/**
 * calculator's tasks: one binary operation (+, -, *) on multi-digit integers, asked in words the
 * model copies into a `calculate` tool call; the tool's result is then copied into `\boxed{}`.
 * Difficulty = digits per operand and the operators. Multiplication makes the tool worth calling.
 *
 * generateRows gives Gym rows (with the tool in responses_create_params); demonstrations gives the
 * matching conversations user → assistant tool call → tool result → assistant `\boxed{N}`.
 */
import { drawForSplit, hash32, randInt, type Split } from "../_shared/generate.ts";
import { evaluate, formatResult } from "./expr.ts";

export interface CalculatorDifficulty {
  /** Digits per operand (1..6). */
  digits: number;
  ops: ("+" | "-" | "*")[];
}

export const DEFAULT_DIFFICULTY: CalculatorDifficulty = { digits: 3, ops: ["+", "-", "*"] };
export const AGENT_NAME = "calculator_simple_agent";

/** Kept minimal: the Qwen3 template puts the whole tool schema into the system block of a 512-token context. */
export const CALCULATE_DESCRIPTION = "Evaluate an arithmetic expression.";
const PARAMETERS = {
  type: "object",
  properties: { expr: { type: "string" } },
  required: ["expr"],
};

/** The tool in Responses shape (rows) and in Chat Completions shape (demonstrations). */
export const CALCULATE_TOOL = { type: "function", name: "calculate", description: CALCULATE_DESCRIPTION, parameters: PARAMETERS, strict: false };
export const CALCULATE_CHAT_TOOL = { type: "function", function: { name: "calculate", description: CALCULATE_DESCRIPTION, parameters: PARAMETERS } };

export interface CalculatorTask {
  question: string; // "347*29"
  answer: number;
}

export function drawTask(rand: () => number, d: CalculatorDifficulty): CalculatorTask {
  const lo = d.digits === 1 ? 0 : 10 ** (d.digits - 1);
  const hi = 10 ** d.digits - 1;
  const a = randInt(rand, lo, hi);
  const b = randInt(rand, lo, hi);
  const op = d.ops[randInt(rand, 0, d.ops.length - 1)];
  const question = `${a}${op}${b}`;
  return { question, answer: evaluate(question) };
}

export const promptOf = (question: string) => `What is ${question}?`;
export const toolArguments = (question: string) => JSON.stringify({ expr: question });
export const answerText = (answer: number) => `\\boxed{${formatResult(answer)}}`;

export interface GenerateOptions {
  split: Split;
  n: number;
  seed: number;
  difficulty?: Partial<CalculatorDifficulty>;
}

function checkDifficulty(d: CalculatorDifficulty): CalculatorDifficulty {
  if (!(d.digits >= 1 && d.digits <= 6 && d.ops.length > 0)) throw new Error(`calculator difficulty out of range: ${JSON.stringify(d)} (digits 1..6, ops non-empty)`);
  return d;
}

export function generateTasks(opts: GenerateOptions): CalculatorTask[] {
  const d = checkDifficulty({ ...DEFAULT_DIFFICULTY, ...opts.difficulty });
  return drawForSplit(opts.split, opts.n, opts.seed, (rand) => drawTask(rand, d));
}

export function generateRows(opts: GenerateOptions): Record<string, unknown>[] {
  return generateTasks(opts).map((t) => ({
    responses_create_params: { input: [{ role: "user", content: promptOf(t.question) }], tools: [CALCULATE_TOOL] },
    question: t.question,
    expected_answer: formatResult(t.answer),
    agent_ref: { type: "responses_api_agents", name: AGENT_NAME },
  }));
}

export interface DemonstrationOptions extends GenerateOptions {
  /**
   * Share of the conversations whose last turn states the tool's result in prose, `The answer is
   * N.`, instead of `\\boxed{N}` (0..1, default 0). Both copy the tool's result, so a policy learns
   * copying from every conversation; only the format differs, and the environment's checker reads
   * only `\\boxed{}`. Which conversations are prose is a hash of the question and its index, so the
   * mix is the same on every machine.
   */
  proseFraction?: number;
}

/** The last turn in prose: right for a person, unread by the checker. */
export const proseAnswerText = (answer: number) => `The answer is ${formatResult(answer)}.`;

/**
 * user → assistant tool call → tool result → assistant answer, in OpenAI chat shape, with the tool
 * list; with `proseFraction`, that share answers in prose (proseAnswerText).
 */
export function demonstrations(opts: DemonstrationOptions): { messages: Record<string, unknown>[]; tools: unknown[] }[] {
  const prose = opts.proseFraction ?? 0;
  if (!(prose >= 0 && prose <= 1)) throw new Error(`calculator proseFraction must be in [0, 1], got ${prose}`);
  return generateTasks(opts).map((t, k) => {
    const id = `call_${k}`;
    const inProse = hash32(`prose:${opts.seed}:${k}:${t.question}`) / 2 ** 32 < prose;
    return {
      messages: [
        { role: "user", content: promptOf(t.question) },
        { role: "assistant", content: "", tool_calls: [{ id, type: "function", function: { name: "calculate", arguments: toolArguments(t.question) } }] },
        { role: "tool", tool_call_id: id, content: formatResult(t.answer) },
        { role: "assistant", content: inProse ? proseAnswerText(t.answer) : answerText(t.answer) },
      ],
      tools: [CALCULATE_CHAT_TOOL],
    };
  });
}
