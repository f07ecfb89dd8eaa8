/**
 * Async GRPO end to end on a tiny random policy: real Gym servers over the in-process OpenAI server
 * and the embedded engine (shared weights: every optimizer step is an in-flight update). Checks that
 * the engine's per-token version record reaches every trained generation span through the Gym
 * path, that no trained group is older than the bound, and that without in-flight updates no
 * sample spans two versions; then the same through the remote pool (the engine seam).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { runGrpo } from "../../src/grpo/loop.ts";
import { parseRecipe } from "../../src/grpo/recipe.ts";
import { smallTrainFile, tinyPolicyCheckpoint, tinyRecipe } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-async-e2e-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const init = tinyPolicyCheckpoint(join(tmp, "init"));
const train = smallTrainFile(tmp);

const asyncRun = async (name: string, inFlight: boolean, extra: string[] = []) => {
  const raw = tinyRecipe({ init, outDir: join(tmp, name), train });
  const recipe = parseRecipe(raw, [
    "grpo.max_num_steps=3",
    "checkpointing.enabled=false",
    "policy.generation.max_new_tokens=24",
    "loss_fn.use_importance_sampling_correction=true",
    "grpo.async_grpo.enabled=true",
    "grpo.async_grpo.max_trajectory_age_steps=1",
    `grpo.async_grpo.in_flight_weight_updates=${inFlight}`,
    ...extra,
  ]);
  const r = await runGrpo({ recipe, log: () => {} });
  expect(r.steps).toBe(3);
  const steps = r.lines.filter((l) => typeof l["async/trajectory_age/max"] === "number");
  expect(steps).toHaveLength(3);
  for (const l of steps) {
    expect(l["async/versions_recorded_frac"]).toBe(1); // every generation span found in the engine's record
    expect(l["async/trajectory_age/max"]).toBeLessThanOrEqual(1);
    expect(l["async/dropped_groups"]).toBe(0);
    expect(l["train/token_mult_prob_error"]).toBeTypeOf("number");
  }
  return steps;
};

test("in-flight updates: per-token versions through Gym, ages within the bound", async () => {
  await asyncRun("inflight", true);
}, 180_000);

test("without in-flight updates no trained sample spans two versions", async () => {
  const steps = await asyncRun("drained", false);
  for (const l of steps) {
    expect(l["async/mixed_version_samples"]).toBe(0);
    expect(l["async/refit_drain_wait_s"]).toBeTypeOf("number");
  }
}, 180_000);

test("through the engine seam: an SGLang-dialect pool (a gymrl serve replica started by the run), refit through files", async () => {
  await asyncRun("pool", true, ["generation.backend=sglang", "generation.replicas=1"]);
}, 240_000);
