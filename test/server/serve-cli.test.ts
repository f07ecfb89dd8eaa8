/**
 * `gymrl serve --random-init` as a real child process, driven by the openai SDK: the whole stack
 * (CLI, HTTP, template, splice, worker-thread engine) with no test double.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";

const bin = fileURLToPath(new URL("../../bin/gymrl.js", import.meta.url));
let child: ChildProcess;
let client: OpenAI;
let baseUrl: string;
let stderr = "";

beforeAll(async () => {
  child = spawn(process.execPath, [bin, "serve", "--random-init", "--port", "0", "--slots", "8"], { stdio: ["ignore", "pipe", "pipe"] });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([
    once(lines, "line"),
    once(child, "exit").then(() => {
      throw new Error(`gymrl serve exited early:\n${stderr}`);
    }),
  ])) as [string];
  baseUrl = line.trim();
  client = new OpenAI({ baseURL: baseUrl, apiKey: "unused", maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  child.kill("SIGTERM");
  if (child.exitCode === null) await once(child, "exit");
});

it("says it serves random weights and prints its base URL", () => {
  expect(stderr).toMatch(/random-init/);
  expect(baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
});

it("answers chat with exact token fields that /tokenize agrees with", async () => {
  const messages = [{ role: "user" as const, content: "What is 2+3?" }];
  const r = await client.chat.completions.create({ model: "gymrl-random-init", messages, max_tokens: 6, logprobs: true, top_logprobs: 2, seed: 7 });
  const m = r.choices[0].message as unknown as { prompt_token_ids: number[]; generation_token_ids: number[]; generation_log_probs: number[] };
  expect(m.generation_token_ids.length).toBeGreaterThan(0);
  expect(m.generation_log_probs.every((x) => x <= 0 && Number.isFinite(x))).toBe(true);
  expect(r.choices[0].logprobs!.content![0].top_logprobs).toHaveLength(2);
  const t = (await (await fetch(baseUrl.replace(/\/v1$/, "/tokenize"), { method: "POST", body: JSON.stringify({ messages }) })).json()) as { tokens: number[] };
  expect(m.prompt_token_ids).toEqual(t.tokens);
  // The same seed gives the same tokens.
  const again = await client.chat.completions.create({ model: "gymrl-random-init", messages, max_tokens: 6, logprobs: true, top_logprobs: 2, seed: 7 });
  expect((again.choices[0].message as unknown as typeof m).generation_token_ids).toEqual(m.generation_token_ids);
});

it("streams chat, offers tools, and completes token-id prompts", async () => {
  const stream = await client.chat.completions.create({
    model: "gymrl-random-init",
    messages: [{ role: "user", content: "hello" }],
    max_tokens: 8,
    stream: true,
    tools: [{ type: "function", function: { name: "calculate", parameters: { type: "object", properties: {} } } }],
  });
  let finish: string | null = null;
  for await (const c of stream) finish = c.choices[0]?.finish_reason ?? finish;
  expect(["stop", "length", "tool_calls"]).toContain(finish);

  const c = await client.completions.create({ model: "gymrl-random-init", prompt: [9707, 1879], max_tokens: 5, temperature: 0 });
  expect(c.choices[0].finish_reason).toBe("length");
  expect(c.usage!.completion_tokens).toBe(5);
});
