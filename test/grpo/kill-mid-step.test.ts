/**
 * kill -9 of a real `gymrl train`: first by this test, from outside, while the child is inside
 * step 2 (seen: `latest` names step 1); then by the child's own hook after step 2's checkpoint
 * directory is renamed into place but before `latest` names it. Each resume must start from the
 * last complete checkpoint (the uncommitted step directory is dropped), the Gym children of a killed
 * run must exit on their own, and the finished run must have consumed exactly the prompts an
 * uninterrupted run does (the data order is a pure function of seed and epoch: data.ts), each step
 * logged once. (test/grpo/resume.test.ts kills between steps and mid-checkpoint.)
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { loadTrainPool, PromptStream } from "../../src/grpo/data.ts";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import { parseRecipe } from "../../src/grpo/recipe.ts";
import { smallTrainFile, tinyPolicyCheckpoint, tinyRecipe, writeRecipe } from "./helpers.ts";
import { gymPids, isAlive, trainInBackground, trainSync } from "./train-child.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-grpo-kill-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const STEPS = 3;
const latestOf = (run: string) => {
  const p = join(run, "checkpoints", "latest");
  return existsSync(p) ? readFileSync(p, "utf8").trim() : null;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("kill -9 mid-step and between a checkpoint and `latest`: each resume starts from the last complete checkpoint; no prompt skipped or repeated", { timeout: 120_000 }, async () => {
  const init = tinyPolicyCheckpoint(join(tmp, "init"));
  const trainFile = smallTrainFile(tmp);
  const run = join(tmp, "run");
  const recipeObj = tinyRecipe({ init, outDir: run, train: trainFile }) as { grpo: Record<string, unknown> };
  recipeObj.grpo.max_num_steps = STEPS;
  const recipe = writeRecipe(join(tmp, "r.yaml"), recipeObj);

  // 1. SIGKILL from outside, as soon as step 1's checkpoint is committed: the child is in step 2
  const first = trainInBackground(recipe, ["--gym-output"]);
  const t0 = Date.now();
  while (latestOf(run) !== "step_000001") {
    if (Date.now() - t0 > 60_000) throw new Error(`step 1 never checkpointed:\n${first.out()}`);
    await sleep(10);
  }
  first.kill("SIGKILL");
  const e1 = await first.exited;
  expect(e1.signal, e1.out).toBe("SIGKILL");
  expect(e1.out).not.toContain(`"steps":`); // it did not get to the end
  const pids = gymPids(e1.out);
  expect(pids).toHaveLength(3); // simple_agent, calculator, vllm_model proxy
  // the launcher held their stdin: they leave by themselves when it dies, even by SIGKILL
  await expect.poll(() => pids.filter(isAlive), { timeout: 10_000, interval: 100 }).toEqual([]);
  const k = Number(latestOf(run)!.slice(5)); // the last complete checkpoint when it died (1, or 2 had step 2 been faster than the poll)
  expect(k).toBeGreaterThanOrEqual(1);
  expect(k).toBeLessThan(STEPS);

  // 2. resumed; killed by its hook with step k+1's directory in place but `latest` not yet moved
  const second = trainSync(recipe, ["--resume"], `before_latest:${k + 1}`);
  expect(second.signal, second.out).toBe("SIGKILL");
  expect(second.out).toContain(`resume: step ${k} `);
  expect(latestOf(run)).toBe(`step_${String(k).padStart(6, "0")}`);
  const uncommitted = join(run, "checkpoints", `step_${String(k + 1).padStart(6, "0")}`);
  expect(existsSync(join(uncommitted, "loop_state.json"))).toBe(true);

  // 3. resumed from step k again (the uncommitted directory is dropped), runs to the end
  const third = trainSync(recipe, ["--resume"]);
  expect(third.status, third.out).toBe(0);
  expect(third.out).toContain(`resume: step ${k} `);
  expect(latestOf(run)).toBe(`step_${String(STEPS).padStart(6, "0")}`);
  expect(readdirSync(join(run, "checkpoints")).filter((d) => d.startsWith("."))).toEqual([]);

  // what an uninterrupted run consumes: 3 prompts per step from the seeded order
  const parsed = parseRecipe(recipeObj);
  const stream = new PromptStream(await loadTrainPool(parsed.environments), parsed.run.seed, parsed.grpo.max_num_epochs);
  const want = Array.from({ length: STEPS }, (_, i) => ({ step: i + 1, prompts: stream.take(3).map((p) => p.id) }));
  expect(new Set(want.flatMap((w) => w.prompts).slice(0, 5)).size).toBe(5); // epoch 0 is a permutation of the 5 rows
  expect(readJsonl(join(run, "prompts.jsonl"))).toEqual(want);
  expect(readJsonl<{ step: number }>(join(run, "metrics.jsonl")).map((m) => m.step)).toEqual([1, 2, 3]);
  expect(readdirSync(join(run, "rollouts")).sort()).toEqual(["step_000001.jsonl", "step_000002.jsonl", "step_000003.jsonl"]);
  const state = JSON.parse(readFileSync(join(run, "checkpoints", "step_000003", "loop_state.json"), "utf8")) as { step: number; optimizerSteps: number; policyVersion: number; data: unknown };
  expect(state).toMatchObject({ step: 3, optimizerSteps: 3, data: stream.position });
});
