/**
 * The learnable environments (arithmetic, calculator): generation is deterministic, splits are
 * disjoint, difficulty shapes the questions, every demonstration is scored 1.0 by the environment's
 * own /verify, and wrong answers (or, for calculator, skipping the tool) score 0. A calculator
 * rollout through simple_agent + vllm_model with a scripted policy replaying a demonstration
 * checks the tool round trip.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import * as arithmetic from "../../src/environments/arithmetic/tasks.ts";
import * as calculator from "../../src/environments/calculator/tasks.ts";
import { evaluate } from "../../src/environments/calculator/expr.ts";
import { VLLM_CONFIG } from "../gym/helpers/paths.ts";
import { startInProcess, type InProcessGym } from "../gym/helpers/in-process.ts";
import { completion, startScriptedPolicy, type ScriptedPolicy } from "../gym/helpers/scripted-policy.ts";
import { demoToOutput, envConfig, post, readJsonl, responseOf, type Json } from "./helpers.ts";

const ENVS = { arithmetic, calculator } as const;

let policy: ScriptedPolicy;
let gym: InProcessGym;
beforeAll(async () => {
  // The scripted policy plays a calculator demonstration for whatever question it is asked.
  policy = await startScriptedPolicy((body) => {
    const messages = body.messages as Json[];
    const question = /What is (.*)\?/.exec(String(messages.find((m) => m.role === "user")?.content))![1];
    const toolResult = messages.find((m) => m.role === "tool");
    if (!toolResult) return completion({ toolCalls: [{ id: "call_0", name: "calculate", arguments: calculator.toolArguments(question) }], prompt: [1, 2], generation: [3] });
    return completion({ content: `\\boxed{${String(toolResult.content)}}`, prompt: [1, 2, 3, 4], generation: [5] });
  });
  gym = await startInProcess([VLLM_CONFIG, envConfig("arithmetic"), envConfig("calculator")], [`+policy_base_url=${policy.baseUrl}`, "+policy_api_key=k", "+policy_model_name=m"]);
});
afterAll(async () => {
  await gym.close();
  await policy.close();
});

describe.each(Object.entries(ENVS))("%s generation", (_name, env) => {
  test("deterministic per seed, different across seeds", () => {
    const a = env.generateRows({ split: "train", n: 50, seed: 7 });
    expect(env.generateRows({ split: "train", n: 50, seed: 7 })).toEqual(a);
    expect(env.generateRows({ split: "train", n: 50, seed: 8 })).not.toEqual(a);
  });

  test("train and validation never share a question", () => {
    const train = new Set(env.generateTasks({ split: "train", n: 2000, seed: 1 }).map((t) => t.question));
    const validation = env.generateTasks({ split: "validation", n: 300, seed: 1 }).map((t) => t.question);
    expect(validation.filter((q) => train.has(q))).toEqual([]);
  });

  test("rows are Gym rows: short prompt, agent_ref, ground truth equal to the expression's value", () => {
    for (const row of env.generateRows({ split: "validation", n: 100, seed: 3 })) {
      const input = (row.responses_create_params as { input: Json[] }).input;
      expect(input).toHaveLength(1);
      expect(String(input[0].content).length).toBeLessThan(40);
      expect(row.agent_ref).toMatchObject({ type: "responses_api_agents", name: `${_name}_simple_agent` });
      expect(Number(row.expected_answer)).toBe(evaluate(String(row.question)));
    }
  });

  test("the shipped data files are what the defaults generate", () => {
    const dir = `src/environments/${_name}/data`;
    expect(readJsonl(`${dir}/train.jsonl`).slice(0, 20)).toEqual(env.generateRows({ split: "train", n: 20, seed: 0 }));
    expect(readJsonl(`${dir}/validation.jsonl`).slice(0, 20)).toEqual(env.generateRows({ split: "validation", n: 20, seed: 0 }));
  });
});

describe("difficulty", () => {
  test("arithmetic: digits and operands shape the question; answers are never negative", () => {
    const tasks = arithmetic.generateTasks({ split: "train", n: 200, seed: 2, difficulty: { digits: 4, operands: 3 } });
    for (const t of tasks) {
      const operands = t.question.split(/[+-]/);
      expect(operands).toHaveLength(3);
      expect(operands[0]).toHaveLength(4);
      expect(t.answer).toBeGreaterThanOrEqual(0);
    }
    expect(() => arithmetic.generateRows({ split: "train", n: 1, seed: 0, difficulty: { digits: 0 } })).toThrow(/out of range/);
  });

  test("calculator: digits and operators shape the question", () => {
    const tasks = calculator.generateTasks({ split: "train", n: 100, seed: 2, difficulty: { digits: 2, ops: ["*"] } });
    for (const t of tasks) expect(t.question).toMatch(/^\d{2}\*\d{2}$/);
  });

  test("tiny question spaces still fill both splits (train repeats questions, never crosses over)", () => {
    const validation = arithmetic.generateTasks({ split: "validation", n: 20, seed: 0, difficulty: { digits: 1, operands: 2, ops: ["+"] } });
    const train = new Set(arithmetic.generateTasks({ split: "train", n: 500, seed: 0, difficulty: { digits: 1, operands: 2, ops: ["+"] } }).map((t) => t.question));
    expect(validation).toHaveLength(20);
    expect(validation.filter((t) => train.has(t.question))).toEqual([]);
  });
});

describe("demonstrations are scored 1.0 by the environment's own /verify", () => {
  test.each(Object.keys(ENVS))("%s", async (name) => {
    const env = ENVS[name as keyof typeof ENVS];
    const rows = env.generateRows({ split: "train", n: 30, seed: 5 });
    const demos = env.demonstrations({ split: "train", n: 30, seed: 5 });
    for (const [k, demo] of demos.entries()) {
      expect(JSON.stringify(demo)).not.toContain("<think>");
      const output = demoToOutput(demo.messages);
      const { json } = await post(`${gym.url(name)}/verify`, { ...rows[k], response: responseOf(output) });
      expect(json.reward, JSON.stringify(demo.messages)).toBe(1);
    }
  });

  test("calculator demonstrations: user → tool call → tool result → answer, tools in chat shape", () => {
    const [demo] = calculator.demonstrations({ split: "train", n: 1, seed: 0 });
    expect(demo.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant"]);
    expect(demo.tools).toEqual([calculator.CALCULATE_CHAT_TOOL]);
    expect(demoToOutput(demo.messages).map((o) => o.type)).toEqual(["function_call", "function_call_output", "message"]);
  });
});

describe("calculator demonstrations with prose answers (the demo's mix)", () => {
  const opts = { split: "train" as const, n: 400, seed: 1 };
  const plain = calculator.demonstrations(opts);
  const mixed = calculator.demonstrations({ ...opts, proseFraction: 0.7 });
  const lastText = (d: { messages: Record<string, unknown>[] }) => String(d.messages.at(-1)!.content);

  test("about that share ends in prose, stating the same number the tool returned; the rest is unchanged", () => {
    const prose = mixed.filter((d) => lastText(d).startsWith("The answer is "));
    expect(prose.length / mixed.length).toBeGreaterThan(0.62);
    expect(prose.length / mixed.length).toBeLessThan(0.78);
    for (const [k, d] of mixed.entries()) {
      const tool = String(d.messages[2].content);
      if (lastText(d).startsWith("The answer is ")) expect(lastText(d)).toBe(`The answer is ${tool}.`);
      else expect(d).toEqual(plain[k]);
      expect(d.messages.slice(0, 3)).toEqual(plain[k].messages.slice(0, 3)); // same question, call and result
    }
    // the same mix on every call (a hash, not Math.random)
    expect(calculator.demonstrations({ ...opts, proseFraction: 0.7 })).toEqual(mixed);
    expect(() => calculator.demonstrations({ ...opts, proseFraction: 1.5 })).toThrow(/proseFraction must be in \[0, 1\], got 1.5/);
  });

  test("the checker scores a prose answer 0 and its boxed twin 1", async () => {
    const rows = calculator.generateRows({ split: "train", n: 20, seed: 1 });
    const k = mixed.findIndex((d, i) => i < 20 && lastText(d).startsWith("The answer is "));
    expect(k).toBeGreaterThanOrEqual(0);
    const prose = await post(`${gym.url("calculator")}/verify`, { ...rows[k], response: responseOf(demoToOutput(mixed[k].messages)) });
    expect(prose.json).toMatchObject({ reward: 0, extracted_answer: null, tool_calls: 1 });
    const boxed = await post(`${gym.url("calculator")}/verify`, { ...rows[k], response: responseOf(demoToOutput(plain[k].messages)) });
    expect(boxed.json).toMatchObject({ reward: 1, tool_calls: 1 });
  });
});

describe("the checkers can fail", () => {
  const row = arithmetic.generateRows({ split: "train", n: 1, seed: 0 })[0];
  const say = (text: string) => responseOf([{ type: "message", role: "assistant", content: [{ type: "output_text", text, annotations: [] }] }]);

  test.each([
    ["wrong number", `\\boxed{${Number(row.expected_answer) + 1}}`, 0],
    ["no box", String(row.expected_answer), 0],
    ["not an integer", `\\boxed{${String(row.expected_answer)}.0}`, 0],
    ["the last box counts", `\\boxed{0} so \\boxed{${String(row.expected_answer)}}`, 1],
  ])("arithmetic: %s → %d", async (_what, text, reward) => {
    const { json } = await post(`${gym.url("arithmetic")}/verify`, { ...row, response: say(text) });
    expect(json).toMatchObject({ reward, expected_answer: row.expected_answer });
  });

  test("calculator: a correct answer without calling the tool scores 0 (require_tool_call)", async () => {
    const crow = calculator.generateRows({ split: "train", n: 1, seed: 0 })[0];
    const { json } = await post(`${gym.url("calculator")}/verify`, { ...crow, response: say(`\\boxed{${String(crow.expected_answer)}}`) });
    expect(json).toMatchObject({ reward: 0, tool_calls: 0, extracted_answer: crow.expected_answer });
  });

  test("calculator tool: results as text, errors readable by the model", async () => {
    expect((await post(`${gym.url("calculator")}/calculate`, { expr: "347 * 29" })).json).toBe(10063);
    expect((await post(`${gym.url("calculator")}/calculate`, { expr: "7/2" })).json).toBe(3.5);
    expect((await post(`${gym.url("calculator")}/calculate`, { expr: "process.exit()" })).json).toMatch(/^error: unexpected 'p'/);
    expect((await post(`${gym.url("calculator")}/calculate`, { expr: "1/0" })).json).toMatch(/division by zero/);
  });
});

test("calculator rollout through simple_agent: tool call, tool result, boxed answer, reward 1", async () => {
  const row = calculator.generateRows({ split: "validation", n: 1, seed: 0 })[0];
  const { status, json } = await post(`${gym.url("calculator_simple_agent")}/run`, row);
  expect(status).toBe(200);
  const output = (json.response as { output: Json[] }).output;
  expect(output.map((o) => o.type)).toEqual(["function_call", "function_call_output", "message"]);
  expect(output[1].output).toBe(row.expected_answer);
  expect(json).toMatchObject({ reward: 1, tool_calls: 1 });
});
