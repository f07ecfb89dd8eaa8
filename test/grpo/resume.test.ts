/**
 * Kill and resume: `gymrl train` in a child process, SIGKILLed between two steps (after step 2's
 * metrics, before its checkpoint) and again in the middle of writing step 3's checkpoint (policy
 * files written, not yet renamed into place), resumed each time with --resume, must consume exactly
 * the prompts an uninterrupted run consumes, in the same order: none skipped, none repeated.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import { REPO, smallTrainFile, tinyPolicyCheckpoint, tinyRecipe, writeRecipe } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-grpo-resume-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function train(recipe: string, extra: string[], crashAt?: string) {
  const env = { ...process.env, GYMRL_CRASH_AT: crashAt ?? "" };
  const r = spawnSync(process.execPath, [join(REPO, "bin/gymrl.js"), "train", "--config", recipe, ...extra], { cwd: REPO, env, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, signal: r.signal, out: `${r.stdout}\n${r.stderr}` };
}

const prompts = (run: string) => readJsonl<{ step: number; prompts: string[] }>(join(run, "prompts.jsonl"));

test("a run killed between steps and mid-checkpoint resumes with exactly the next prompt", { timeout: 300_000 }, () => {
  const init = tinyPolicyCheckpoint(join(tmp, "init"));
  const trainFile = smallTrainFile(tmp);
  const recipeA = writeRecipe(join(tmp, "a.yaml"), tinyRecipe({ init, outDir: join(tmp, "a"), train: trainFile }));
  const recipeB = writeRecipe(join(tmp, "b.yaml"), tinyRecipe({ init, outDir: join(tmp, "b"), train: trainFile }));

  // the reference: 4 steps × 3 prompts from a pool of 5 rows (so the order crosses epochs)
  const a = train(recipeA, []);
  expect(a.status, a.out).toBe(0);
  const want = prompts(join(tmp, "a"));
  expect(want.map((p) => p.step)).toEqual([1, 2, 3, 4]);
  expect(new Set(want.flatMap((p) => p.prompts).slice(0, 5)).size).toBe(5); // epoch 0 visits every row once

  // killed after step 2's metrics, before its checkpoint: the last checkpoint is step 1
  const b1 = train(recipeB, [], "after_step:2");
  expect(b1.signal, b1.out).toBe("SIGKILL");
  expect(readFileSync(join(tmp, "b", "checkpoints", "latest"), "utf8").trim()).toBe("step_000001");

  // resumed at step 1 (step 2 is redone), killed while writing step 3's checkpoint
  const b2 = train(recipeB, ["--resume"], "mid_checkpoint:3");
  expect(b2.signal, b2.out).toBe("SIGKILL");
  expect(b2.out).toContain("resume: step 1");
  expect(readFileSync(join(tmp, "b", "checkpoints", "latest"), "utf8").trim()).toBe("step_000002");
  expect(readdirSync(join(tmp, "b", "checkpoints")).some((d) => d.includes(".tmp"))).toBe(true); // the torn write

  // resumed at step 2 (the torn step-3 checkpoint is ignored and removed), runs to the end
  const b3 = train(recipeB, ["--resume"]);
  expect(b3.status, b3.out).toBe(0);
  expect(b3.out).toContain("resume: step 2");
  expect(readdirSync(join(tmp, "b", "checkpoints")).some((d) => d.includes(".tmp"))).toBe(false);

  expect(prompts(join(tmp, "b"))).toEqual(want);
  expect(readJsonl(join(tmp, "b", "metrics.jsonl")).map((m) => m.step)).toEqual([1, 2, 3, 4]);
  const state = JSON.parse(readFileSync(join(tmp, "b", "checkpoints", "step_000004", "loop_state.json"), "utf8"));
  const stateA = JSON.parse(readFileSync(join(tmp, "a", "checkpoints", "step_000004", "loop_state.json"), "utf8"));
  expect(state.data).toEqual(stateA.data);
  expect(state.optimizerSteps).toBe(stateA.optimizerSteps);
});
