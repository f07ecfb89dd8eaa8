/**
 * Rollouts against `serve` over a Llama 3.1 directory (the real embedded engine and OpenAI server,
 * random weights) behind Gym's vllm_model proxy, simple_agent and a tool-using environment: every
 * trajectory is the model call's prompt ids (the Llama template's, starting with
 * <|begin_of_text|>) plus its generated ids, masked on the generated ids, with no prefix break.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { GymClient } from "../../src/gym/index.ts";
import { collectAll, type RolloutSuccess } from "../../src/rollout/index.ts";
import { serve, type RunningServe } from "../../src/server/serve.ts";
import { startInProcess, type InProcessGym } from "../gym/helpers/in-process.ts";
import { EXAMPLE_CONFIG, REPO, VLLM_CONFIG } from "../gym/helpers/paths.ts";
import { writeTinyHfModel } from "../support/hf-model-dir.ts";

const AGENT = "example_single_tool_call_simple_agent";
let policy: RunningServe;
let gym: InProcessGym;

beforeAll(async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "gymrl-rollout-dir-")), "llama3");
  writeTinyHfModel(dir, "llama3", { seed: 9 });
  policy = await serve({ modelDir: dir, modelName: "policy", slots: 4, maxModelLen: 2048, thread: "main" });
  gym = await startInProcess([VLLM_CONFIG, EXAMPLE_CONFIG], [`+policy_base_url=${policy.baseUrl}/v1`, "+policy_api_key=dummy", "+policy_model_name=policy"]);
}, 120_000);
afterAll(async () => {
  await gym?.close();
  await policy?.close();
});

test("rollouts through serve --model <llama3 dir> → vllm_model → simple_agent become exact token trajectories", async () => {
  expect(policy.format.family).toBe("llama3");
  const rows = readFileSync(`${REPO}/src/environments/example_single_tool_call/data/example.jsonl`, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, 2)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const { groups, failures, metrics } = await collectAll({
    gym: new GymClient(gym.config),
    rows,
    numRepeats: 2,
    defaultAgent: AGENT,
    concurrency: 4,
    deadlineMs: 60_000,
    samplingParams: { temperature: 1, max_output_tokens: 10 },
    trajectory: { onPrefixBreak: "fail" },
  });
  expect(failures).toEqual([]);
  expect(metrics.contiguity_breaks).toBe(0);
  const rollouts: RolloutSuccess[] = groups.flatMap((g) => g.succeeded);
  expect(rollouts).toHaveLength(4);
  for (const r of rollouts) {
    const calls = (r.result.response as { output: Record<string, unknown>[] }).output.filter((o) => Array.isArray(o.generation_token_ids) && (o.generation_token_ids as number[]).length > 0);
    const last = calls[calls.length - 1];
    const prompt = last.prompt_token_ids as number[];
    expect(prompt[0]).toBe(128000);
    const s = r.conversion.samples[0];
    expect([...s.tokens]).toEqual([...prompt, ...(last.generation_token_ids as number[])]);
    const generated = new Set<number>();
    for (const c of calls) (c.generation_token_ids as number[]).forEach((_, i) => generated.add((c.prompt_token_ids as number[]).length + i));
    expect([...s.lossMask].every((m, i) => (m === 1) === generated.has(i))).toBe(true);
  }
});
