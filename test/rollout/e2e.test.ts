/**
 * End to end: `gymrl serve` (random weights, the real embedded engine and OpenAI server) behind
 * Gym's vllm_model proxy, simple_agent and a tool-using environment, collected by the collector.
 * Every trajectory must equal the last model call's prompt_token_ids + generation_token_ids, its
 * loss mask must cover exactly the generated tokens, and no prefix may break.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, test } from "vitest";
import { collectAll, type RolloutSuccess } from "../../src/rollout/index.ts";
import { serve, type RunningServe } from "../../src/server/serve.ts";
import { startInProcess, type InProcessGym } from "../gym/helpers/in-process.ts";
import { EXAMPLE_CONFIG, REPO, VLLM_CONFIG } from "../gym/helpers/paths.ts";
import { GymClient } from "../../src/gym/index.ts";

const AGENT = "example_single_tool_call_simple_agent";
let policy: RunningServe;
let gym: InProcessGym;

beforeAll(async () => {
  policy = await serve({ randomInit: true, seed: 3, slots: 4, thread: "main" });
  gym = await startInProcess([VLLM_CONFIG, EXAMPLE_CONFIG], [`+policy_base_url=${policy.baseUrl}/v1`, "+policy_api_key=dummy", `+policy_model_name=${policy.modelName}`]);
}, 120_000);
afterAll(async () => {
  await gym?.close();
  await policy?.close();
});

test("rollouts through serve → vllm_model → simple_agent → example_single_tool_call become exact token trajectories", async () => {
  const rows = readFileSync(`${REPO}/src/environments/example_single_tool_call/data/example.jsonl`, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, 3)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const { groups, failures, metrics } = await collectAll({
    gym: new GymClient(gym.config),
    rows,
    numRepeats: 2,
    defaultAgent: AGENT,
    concurrency: 4,
    deadlineMs: 60_000,
    samplingParams: { temperature: 1, max_output_tokens: 12 },
    trajectory: { onPrefixBreak: "fail" },
  });
  expect(failures).toEqual([]);
  expect(groups).toHaveLength(3);
  expect(groups.every((g) => g.outcomes.length === 2)).toBe(true);
  expect(metrics.contiguity_breaks).toBe(0);

  const rollouts: RolloutSuccess[] = groups.flatMap((g) => g.succeeded);
  expect(rollouts).toHaveLength(6);
  for (const r of rollouts) {
    const calls = (r.result.response as { output: Record<string, unknown>[] }).output.filter((o) => Array.isArray(o.generation_token_ids) && (o.generation_token_ids as number[]).length > 0);
    expect(calls.length).toBeGreaterThan(0);
    const last = calls[calls.length - 1];
    const expected = [...(last.prompt_token_ids as number[]), ...(last.generation_token_ids as number[])];
    expect(r.conversion.samples).toHaveLength(1);
    const s = r.conversion.samples[0];
    expect([...s.tokens]).toEqual(expected);
    // the mask is 1 exactly on the tokens each call generated
    const generated = new Set<number>();
    for (const c of calls) {
      const start = (c.prompt_token_ids as number[]).length;
      (c.generation_token_ids as number[]).forEach((_, i) => generated.add(start + i));
    }
    expect([...s.lossMask].map((m, i) => (m === 1) === generated.has(i)).every(Boolean)).toBe(true);
    expect([...s.generationLogprobs].every((lp, i) => (s.lossMask[i] === 1 ? lp <= 0 : lp === 0))).toBe(true);
    expect(s.reward).toBe(1);
    expect(s.turns).toBe(calls.length);
  }
  expect(metrics.gen_tokens_per_turn.max).toBeLessThanOrEqual(12);
});
