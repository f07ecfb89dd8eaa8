/**
 * Reproducible GRPO: sampling seeds derive from run.seed and (step, batch, prompt, generation), so
 * two runs of one seed generate the same rollouts, log the same metrics and end with bit-identical
 * weights, and so does a run SIGKILLed after step 2's metrics and resumed from step 1's checkpoint.
 * Reference kernels: with OpenBLAS a row's rounding can depend on which rows share its batch, which
 * concurrency decides (see the engine README).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import { REPO, smallTrainFile, tinyPolicyCheckpoint, tinyRecipe, writeRecipe } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-grpo-repro-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function train(recipe: string, extra: string[], crashAt?: string) {
  const env = { ...process.env, GYMRL_CRASH_AT: crashAt ?? "" };
  const r = spawnSync(process.execPath, [join(REPO, "bin/gymrl.js"), "train", "--config", recipe, ...extra], { cwd: REPO, env, encoding: "utf8", timeout: 240_000 });
  return { status: r.status, signal: r.signal, out: `${r.stdout}\n${r.stderr}` };
}

/** Metrics without the wall-clock ones. */
const metrics = (run: string) =>
  readJsonl<Record<string, unknown>>(join(run, "metrics.jsonl")).map((m) =>
    Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith("timing/") && !k.startsWith("throughput/") && !k.includes("per_s") && k !== "elapsed_s")),
  );
/** Dumped rollouts (text, rewards, prompts) without the random response item ids. */
const rollouts = (run: string) =>
  readJsonl<{ output: Record<string, unknown>[] }>(join(run, "rollouts.jsonl")).map((r) => ({ ...r, output: r.output.map(({ id: _id, ...item }) => item) }));
const weights = (run: string) => readFileSync(join(run, "checkpoints", "step_000002", "policy", "model.safetensors"));

test("same seed: same rollouts, metrics and weights; a killed and resumed run ends bit-identical", { timeout: 900_000 }, () => {
  const init = tinyPolicyCheckpoint(join(tmp, "init"));
  const trainFile = smallTrainFile(tmp);
  const recipeFor = (name: string) => {
    const r = tinyRecipe({ init, outDir: join(tmp, name), train: trainFile }) as { model: Record<string, unknown>; grpo: Record<string, unknown>; run: Record<string, unknown>; policy: { generation: Record<string, unknown> } };
    r.model.kernels = "reference";
    r.grpo.max_num_steps = 2;
    r.run.dump_rollouts = 100;
    r.policy.generation.temperature = 1;
    return writeRecipe(join(tmp, `${name}.yaml`), r);
  };

  const a = train(recipeFor("a"), []);
  expect(a.status, a.out).toBe(0);
  const b = train(recipeFor("b"), []);
  expect(b.status, b.out).toBe(0);
  expect(rollouts(join(tmp, "a")).length).toBeGreaterThan(6);
  expect(rollouts(join(tmp, "b"))).toEqual(rollouts(join(tmp, "a")));
  expect(metrics(join(tmp, "b"))).toEqual(metrics(join(tmp, "a")));
  expect(weights(join(tmp, "b")).equals(weights(join(tmp, "a")))).toBe(true);

  // killed after step 2's metrics (its checkpoint never written), resumed from step 1
  const c1 = train(recipeFor("c"), [], "after_step:2");
  expect(c1.signal, c1.out).toBe("SIGKILL");
  const c2 = train(recipeFor("c"), ["--resume"]);
  expect(c2.status, c2.out).toBe(0);
  expect(c2.out).toContain("resume: step 1");
  expect(metrics(join(tmp, "c"))).toEqual(metrics(join(tmp, "a")));
  expect(rollouts(join(tmp, "c")).filter((r) => (r as { step?: number }).step === 2)).toEqual(rollouts(join(tmp, "a")).filter((r) => (r as { step?: number }).step === 2));
  expect(weights(join(tmp, "c")).equals(weights(join(tmp, "a")))).toBe(true);
});
