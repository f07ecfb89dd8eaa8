/**
 * calculator's tasks: one binary operation (+, -, *) on multi-digit integers, asked in words the
 * model copies into a `calculate` tool call; the tool's result is then copied into `\boxed{}`.
 * Difficulty = digits per operand and the operators. Multiplication makes the tool worth calling.
 *
 * generateRows gives Gym rows (with the tool in responses_create_params); demonstrations gives the
 * matching conversations user → assistant tool call → tool result → assistant `\boxed{N}`.
 */
import { drawForSplit, randInt, type Split } from "../_shared/generate.ts";
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

/** user → assistant tool call → tool result → assistant answer, in OpenAI chat shape, with the tool list. */
export function demonstrations(opts: GenerateOptions): { messages: Record<string, unknown>[]; tools: unknown[] }[] {
  return generateTasks(opts).map((t, k) => {
    const id = `call_${k}`;
    return {
      messages: [
        { role: "user", content: promptOf(t.question) },
        { role: "assistant", content: "", tool_calls: [{ id, type: "function", function: { name: "calculate", arguments: toolArguments(t.question) } }] },
        { role: "tool", tool_call_id: id, content: formatResult(t.answer) },
        { role: "assistant", content: answerText(t.answer) },
      ],
      tools: [CALCULATE_CHAT_TOOL],
    };
  });
}
