/**
 * The policy server stopped (SIGSTOP) mid-collection, past the rollout deadline: the policy is a
 * process of its own, the Gym servers are real children (startGym). Every rollout still ends by
 * its deadline, as a result or a `timeout` failure record, each exactly once, and the Gym servers
 * survive; once the policy runs again (SIGCONT), `resume` sends exactly the failed ones.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { startGym, type GymHandle } from "../../src/gym/index.ts";
import { collectToFiles, outputPaths, rolloutKey } from "../../src/rollout/index.ts";
import { EXAMPLE_CONFIG, REPO, VLLM_CONFIG } from "../gym/helpers/paths.ts";

const AGENT = "example_single_tool_call_simple_agent";
const ROWS = readFileSync(`${REPO}/src/environments/example_single_tool_call/data/example.jsonl`, "utf8")
  .split("\n")
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Record<string, unknown>);
const REPEATS = 4;
const TOTAL = ROWS.length * REPEATS;
const DEADLINE_MS = 2000;
const OK_BEFORE_STOP = 4;
const CONCURRENCY = 4;

let policy: ChildProcess | undefined;
let gym: GymHandle | undefined;
afterAll(async () => {
  policy?.kill("SIGCONT");
  policy?.kill("SIGKILL");
  await gym?.stop();
});

async function startPolicyProcess(): Promise<{ proc: ChildProcess; baseUrl: string }> {
  const tsx = createRequire(import.meta.url).resolve("tsx");
  const proc = spawn(process.execPath, ["--import", tsx, join(REPO, "test/rollout/helpers/policy-process.ts")], { cwd: REPO, stdio: ["pipe", "pipe", "inherit"] });
  const baseUrl = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString("utf8");
      const m = /POLICY_URL (\S+)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once("exit", (code) => reject(new Error(`policy process exited with ${code}: ${out}`)));
  });
  return { proc, baseUrl };
}

const lines = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const keyOf = (r: Record<string, unknown>) => rolloutKey(r._ng_task_index as number, r._ng_rollout_index as number);

test("policy SIGSTOPped past the deadline: every rollout ends by its deadline as a result or a timeout record, once; after SIGCONT resume sends exactly those", { timeout: 90_000 }, async () => {
  const started = await startPolicyProcess();
  policy = started.proc;
  gym = await startGym({
    configPaths: [VLLM_CONFIG, EXAMPLE_CONFIG],
    overrides: [`+policy_base_url=${started.baseUrl}`, "+policy_api_key=dummy", "+policy_model_name=test"],
    envYaml: false,
  });
  // one rollout first, so that cold start-up is not what the deadline measures
  expect((await gym.client.postJson(AGENT, "/run", ROWS[0])) as { reward: number }).toMatchObject({ reward: 1 });
  const out = join(mkdtempSync(join(tmpdir(), "gymrl-rollout-stop-")), "out.jsonl");
  const paths = outputPaths(out);

  let ok = 0;
  let stoppedAt = 0;
  const t0 = Date.now();
  const report = await collectToFiles({
    gym: gym.headUrl,
    rows: ROWS,
    numRepeats: REPEATS,
    defaultAgent: AGENT,
    output: out,
    concurrency: CONCURRENCY,
    deadlineMs: DEADLINE_MS,
    retries: 1,
    backoffMs: 50,
    progress: false,
    onOutcome: (o) => {
      if (o.kind === "ok" && ++ok === OK_BEFORE_STOP) {
        policy!.kill("SIGSTOP"); // the process is frozen: connections are accepted, nothing answers
        stoppedAt = Date.now();
      }
    },
  });
  const afterStop = Date.now() - stoppedAt;
  expect(stoppedAt).toBeGreaterThan(t0);
  // the rest hang on the frozen policy; CONCURRENCY at a time, each cut off at its deadline
  expect(afterStop).toBeLessThan(Math.ceil((TOTAL - OK_BEFORE_STOP) / CONCURRENCY) * DEADLINE_MS + 3000);

  const results = lines(paths.results);
  const failures = lines(paths.failures);
  expect(report).toMatchObject({ total: TOTAL, sent: TOTAL, skipped: 0, succeeded: results.length, failed: failures.length, aborted: 0 });
  expect(results.length + failures.length).toBe(TOTAL);
  expect(new Set([...results, ...failures].map(keyOf)).size).toBe(TOTAL); // nothing twice, nothing lost
  expect(results.length).toBeGreaterThanOrEqual(OK_BEFORE_STOP);
  // at most the rollouts in flight when it stopped can have slipped through
  expect(failures.length).toBeGreaterThanOrEqual(TOTAL - OK_BEFORE_STOP - 2 * CONCURRENCY);
  for (const f of failures) {
    expect(f._ng_failure_class).toBe("timeout");
    expect(f._ng_failure_message).toBe(`no result within the ${DEADLINE_MS} ms rollout deadline (1 attempt(s))`);
  }
  expect(() => gym!.check()).not.toThrow(); // no Gym server died of it

  // the policy runs again: exactly the failed rollouts are sent, and all succeed
  policy.kill("SIGCONT");
  const resent: string[] = [];
  const resumed = await collectToFiles({
    gym: gym.headUrl,
    rows: ROWS,
    numRepeats: REPEATS,
    defaultAgent: AGENT,
    output: out,
    resume: true,
    concurrency: CONCURRENCY,
    deadlineMs: 10_000,
    progress: false,
    onOutcome: (o) => resent.push(rolloutKey(o.taskIndex, o.rolloutIndex)),
  });
  expect(resumed).toMatchObject({ total: TOTAL, skipped: results.length, sent: failures.length, succeeded: failures.length, failed: 0 });
  expect(resent.sort()).toEqual(failures.map(keyOf).sort());
  const all = lines(paths.results);
  expect(all).toHaveLength(TOTAL);
  expect(new Set(all.map(keyOf)).size).toBe(TOTAL);
  expect(all.every((r) => r.reward === 1)).toBe(true);
  expect(lines(paths.failures)).toEqual([]);
});
