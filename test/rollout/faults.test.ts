/**
 * Faults against a real Gym (startGym: child processes) and the file writer: a policy that stalls
 * on one prompt and a resources server killed mid-collection give failure records and a finished
 * batch within the deadline, with every rollout accounted for exactly once; then `resume` (on a
 * fresh Gym, with a partial last line left in the results file) sends exactly the missing ones.
 */
import { appendFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { startGym, type GymHandle } from "../../src/gym/index.ts";
import { collectToFiles, outputPaths, rolloutKey } from "../../src/rollout/index.ts";
import { EXAMPLE_CONFIG, REPO, VLLM_CONFIG } from "../gym/helpers/paths.ts";
import { completion, startScriptedPolicy, type ScriptedPolicy } from "../gym/helpers/scripted-policy.ts";

const AGENT = "example_single_tool_call_simple_agent";
const ROWS = readFileSync(`${REPO}/src/environments/example_single_tool_call/data/example.jsonl`, "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Record<string, unknown>);
const REPEATS = 4;
const TOTAL = ROWS.length * REPEATS;

let stallOn: string | undefined = "humidity in sf";
const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function startAll(): Promise<{ policy: ScriptedPolicy; gym: GymHandle }> {
  const policy = await startScriptedPolicy((body) => {
    const msgs = body.messages as { role: string; content: unknown }[];
    if (stallOn && msgs.some((m) => m.role === "user" && m.content === stallOn)) return new Promise(() => {}); // never answers
    const step = msgs.filter((m) => m.role === "assistant").length;
    return step === 0
      ? completion({ toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"SF"}' }], prompt: [1, 2], generation: [3, 4] })
      : completion({ content: "Cold.", prompt: [1, 2, 3, 4, 5], generation: [6, 7] });
  });
  const gym = await startGym({
    configPaths: [VLLM_CONFIG, EXAMPLE_CONFIG],
    overrides: [`+policy_base_url=${policy.baseUrl}`, "+policy_api_key=dummy", "+policy_model_name=test"],
    envYaml: false,
  });
  cleanup.push(() => policy.close(), () => gym.stop());
  return { policy, gym };
}

const lines = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const keyOf = (r: Record<string, unknown>) => rolloutKey(r._ng_task_index as number, r._ng_rollout_index as number);

test("stalled policy + killed resources server: failure records, finished batch, nothing lost or doubled; resume does exactly the rest", async () => {
  const out = join(mkdtempSync(join(tmpdir(), "gymrl-rollout-")), "out.jsonl");
  const paths = outputPaths(out);
  const first = await startAll();
  const resources = first.gym.servers.find((s) => s.serverType === "resources_servers")!;

  let finished = 0;
  const t0 = Date.now();
  const report = await collectToFiles({
    gym: first.gym,
    rows: ROWS,
    numRepeats: REPEATS,
    defaultAgent: AGENT,
    output: out,
    concurrency: 4,
    deadlineMs: 1500,
    retries: 1,
    backoffMs: 50,
    progress: false,
    onOutcome: () => {
      if (++finished === 6) process.kill(resources.pid!, "SIGKILL"); // mid-collection
    },
  });
  const wall = Date.now() - t0;
  // 20 rollouts, 4 at a time, none may outlive its 1.5 s deadline (+ start-up slack)
  expect(wall).toBeLessThan(Math.ceil(TOTAL / 4) * 1500 + 5000);

  const results = lines(paths.results);
  const failures = lines(paths.failures);
  expect(results.length + failures.length).toBe(TOTAL);
  expect(report).toMatchObject({ total: TOTAL, sent: TOTAL, skipped: 0, succeeded: results.length, failed: failures.length, aborted: 0 });
  const keys1 = [...results, ...failures].map(keyOf);
  expect(new Set(keys1).size).toBe(TOTAL); // nothing twice, nothing lost
  expect(results.length).toBeGreaterThanOrEqual(5);
  // the stalled prompt's rollouts time out; after the kill the others fail on the dead server
  const stalled = failures.filter((f) => (f.responses_create_params as { input: { content: string }[] }).input[1].content === "humidity in sf");
  expect(stalled.map((f) => f._ng_failure_class)).toContain("timeout");
  expect(failures.length).toBeGreaterThan(stalled.length);
  for (const f of failures) {
    expect(typeof f._ng_failure_class).toBe("string");
    expect(typeof f._ng_failure_message).toBe("string");
    expect(f.agent_ref).toEqual({ type: "responses_api_agents", name: AGENT });
  }
  expect(lines(paths.materializedInputs)).toHaveLength(TOTAL);
  const metrics = JSON.parse(readFileSync(paths.rolloutMetrics, "utf8")) as { failed: number; failures_by_class: Record<string, number> };
  expect(metrics.failed).toBe(failures.length);
  expect(Object.values(metrics.failures_by_class).reduce((a, b) => a + b, 0)).toBe(failures.length);

  // An interrupted writer's partial last line: cut off, not counted done.
  appendFileSync(paths.results, '{"_ng_task_index": 0, "_ng_rollo');

  stallOn = undefined;
  await first.gym.stop();
  const second = await startAll();
  const resent: string[] = [];
  const resumed = await collectToFiles({
    gym: second.gym.headUrl,
    rows: ROWS,
    numRepeats: REPEATS,
    defaultAgent: AGENT,
    output: out,
    resume: true,
    concurrency: 4,
    deadlineMs: 10_000,
    progress: false,
    onOutcome: (o) => resent.push(rolloutKey(o.taskIndex, o.rolloutIndex)),
  });
  expect(resumed).toMatchObject({ total: TOTAL, skipped: results.length, sent: failures.length, failed: 0, succeeded: failures.length });
  expect(resent.sort()).toEqual(failures.map(keyOf).sort()); // exactly the missing ones
  const all = lines(paths.results);
  expect(all).toHaveLength(TOTAL);
  expect(new Set(all.map(keyOf)).size).toBe(TOTAL);
  expect(lines(paths.failures)).toEqual([]);
  const agg = JSON.parse(readFileSync(paths.aggregateMetrics, "utf8")) as { agent_ref: { name: string }; agent_metrics?: unknown }[];
  expect(agg[0].agent_ref.name).toBe(AGENT);
  expect(agg[0].agent_metrics).toBeDefined();
}, 90_000);
