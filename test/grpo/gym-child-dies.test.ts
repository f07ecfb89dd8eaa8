/**
 * Gym children failing under a real `gymrl train`: the calculator resources server SIGKILLed while
 * the run is inside step 2 ends the run with an error naming it (no step trained on, logged or
 * checkpointed without it); a resume whose Gym child exits at start-up fails naming that server,
 * leaves the run's checkpoints as they were and leaves no process behind; a resume with a working
 * Gym continues from the last complete checkpoint with exactly the next prompts.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { loadTrainPool, PromptStream } from "../../src/grpo/data.ts";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import { parseRecipe } from "../../src/grpo/recipe.ts";
import { smallTrainFile, tinyPolicyCheckpoint, tinyRecipe, writeRecipe } from "./helpers.ts";
import { isAlive, trainInBackground, trainSync } from "./train-child.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-grpo-gymdies-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const STEPS = 3;
const latestOf = (run: string) => {
  const p = join(run, "checkpoints", "latest");
  return existsSync(p) ? readFileSync(p, "utf8").trim() : null;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** "[name] ... listening on URL (pid N)" lines of --gym-output, by server name. */
const gymPidsByName = (out: string) => new Map([...out.matchAll(/\[(\S+)\] .*listening on \S+ \(pid (\d+)\)/g)].map((m) => [m[1], Number(m[2])]));

test("a resources server killed mid-run and a Gym child that exits at start-up: clear errors, nothing logged without them, resume continues from the last checkpoint", { timeout: 150_000 }, async () => {
  const init = tinyPolicyCheckpoint(join(tmp, "init"));
  const trainFile = smallTrainFile(tmp);
  const run = join(tmp, "run");
  const recipeObj = tinyRecipe({ init, outDir: run, train: trainFile }) as { grpo: Record<string, unknown>; gym: { overrides: string[] } };
  recipeObj.grpo.max_num_steps = STEPS;
  const recipe = writeRecipe(join(tmp, "r.yaml"), recipeObj);

  // 1. the calculator server SIGKILLed once step 1's checkpoint is committed
  const first = trainInBackground(recipe, ["--gym-output"]);
  const t0 = Date.now();
  while (latestOf(run) !== "step_000001") {
    if (Date.now() - t0 > 60_000) throw new Error(`step 1 never checkpointed:\n${first.out()}`);
    await sleep(10);
  }
  const pids = gymPidsByName(first.out());
  expect([...pids.keys()].sort()).toEqual(["calculator", "calculator_simple_agent", "policy_model"]);
  process.kill(pids.get("calculator")!, "SIGKILL");
  const e1 = await first.exited;
  expect(e1.status, e1.out).not.toBe(0);
  expect(e1.out).toMatch(/'calculator' was killed by SIGKILL while Gym was running/);
  const k = Number(latestOf(run)!.slice(5)); // 1, or 2 had step 2's rollouts all been in before the kill
  expect(k).toBeGreaterThanOrEqual(1);
  // the step whose rollouts met the dead server was neither logged nor checkpointed
  expect(readJsonl<{ step: number }>(join(run, "metrics.jsonl")).map((m) => m.step)).toEqual(Array.from({ length: k }, (_, i) => i + 1));
  await expect.poll(() => [...pids.values()].filter(isAlive), { timeout: 10_000, interval: 100 }).toEqual([]);
  const checkpointsBefore = readdirSync(join(run, "checkpoints")).sort();

  // 2. a resume whose model proxy exits at start-up (a base_url that is no URL)
  const broken = structuredClone(recipeObj);
  broken.gym.overrides = [...broken.gym.overrides, "+policy_model.responses_api_models.vllm_model.base_url=[]"];
  const e2 = trainSync(writeRecipe(join(tmp, "broken.yaml"), broken), ["--resume", "--gym-output"]);
  expect(e2.status, e2.out).not.toBe(0);
  expect(e2.out).toMatch(/'policy_model' exited with code 1 during start-up[\s\S]*base_url/);
  expect(readdirSync(join(run, "checkpoints")).sort()).toEqual(checkpointsBefore);
  expect(latestOf(run)).toBe(`step_${String(k).padStart(6, "0")}`);
  const started = [...gymPidsByName(e2.out).values()];
  expect(started.filter(isAlive)).toEqual([]);

  // 3. a working resume runs to the end from step k
  const e3 = trainSync(recipe, ["--resume"]);
  expect(e3.status, e3.out).toBe(0);
  expect(e3.out).toContain(`resume: step ${k} `);
  const parsed = parseRecipe(recipeObj);
  const stream = new PromptStream(await loadTrainPool(parsed.environments), parsed.run.seed, parsed.grpo.max_num_epochs);
  expect(readJsonl(join(run, "prompts.jsonl"))).toEqual(Array.from({ length: STEPS }, (_, i) => ({ step: i + 1, prompts: stream.take(3).map((p) => p.id) })));
  expect(readJsonl<{ step: number }>(join(run, "metrics.jsonl")).map((m) => m.step)).toEqual([1, 2, 3]);
  expect(latestOf(run)).toBe("step_000003");
});
