/**
 * The GRPO loop on the other policy backends, end to end through real Gym servers:
 *  - the embedded trainer beside an SGLang-dialect pool of two `gymrl serve` replicas that the run
 *    starts as child processes (refit through an HF safetensors directory + /update_weights_from_disk);
 *  - the PyTorch worker (one rank) beside the embedded engine (refit through files), where an
 *    interpreter imports torch.
 * Each run takes two steps; the checks are what on-policy training needs: the sampler's logprobs
 * equal the trainer's (token_mult_prob_error ≈ 1), every refit reached the engine (policy version =
 * step), no contiguity breaks, and the run directory says where the weights went.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { runGrpo } from "../../src/grpo/loop.ts";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import { parseRecipe } from "../../src/grpo/recipe.ts";
import { findTorchPython } from "../../src/grpo/torch-trainer/index.ts";
import { smallTrainFile, tinyPolicyCheckpoint, tinyRecipe } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-backends-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const python = await findTorchPython().catch(() => null);
const requireTorch = process.env.GYMRL_REQUIRE_TORCH === "1";

async function twoSteps(name: string, overrides: string[]) {
  const dir = join(tmp, name);
  const raw = tinyRecipe({ init: tinyPolicyCheckpoint(join(dir, "init")), outDir: join(dir, "run"), train: smallTrainFile(tmp) });
  const recipe = parseRecipe(raw, ["grpo.max_num_steps=2", "grpo.val_at_start=false", "grpo.val_at_end=false", ...overrides]);
  const lines: string[] = [];
  const r = await runGrpo({ recipe, log: (l) => lines.push(l) });
  expect(r.steps).toBe(2);
  const metrics = readJsonl(join(dir, "run", "metrics.jsonl"));
  for (const m of metrics) {
    expect(m["train/contiguity_breaks"]).toBe(0);
    expect(m["train/token_mult_prob_error"]).toBeLessThan(1.01);
    expect(m["train/policy_version"]).toBe(m.step);
    expect(m["timing/train/refit"]).toBeGreaterThan(0);
  }
  return { dir, lines, metrics };
}

test("embedded trainer × SGLang-dialect pool of two gymrl serve replicas started by the run", async () => {
  const { dir, lines } = await twoSteps("pool", ["generation.backend=sglang", "generation.replicas=2"]);
  expect(lines.some((l) => l.includes("sglang pool of 2"))).toBe(true);
  // only the latest refit directory is kept, and it is a loadable HF checkpoint
  const refits = readdirSync(join(dir, "run", "refit"));
  expect(refits).toEqual(["v000002"]);
  expect(existsSync(join(dir, "run", "refit", "v000002", "model.safetensors"))).toBe(true);
  expect(readFileSync(join(dir, "run", "replicas.log"), "utf8")).toContain("== replica 1 http://127.0.0.1:");
}, 240_000);

test.skipIf(!python && !requireTorch)("PyTorch worker × embedded engine, then a resume on the same path", async () => {
  const overrides = ["trainer.backend=torch", "generation.backend=embedded"];
  const { dir, lines } = await twoSteps("torch", overrides);
  expect(lines.some((l) => l.includes("torch"))).toBe(true);
  expect(existsSync(join(dir, "run", "torch-worker.log"))).toBe(true);
  expect(readFileSync(join(dir, "run", "checkpoints", "latest"), "utf8").trim()).toBe("step_000002");

  // the same run directory with one more step: the worker starts from checkpoint 2 (weights and
  // AdamW moments) and the loop takes step 3 only
  const raw = tinyRecipe({ init: join(dir, "init"), outDir: join(dir, "run"), train: smallTrainFile(tmp) });
  const r = await runGrpo({ recipe: parseRecipe(raw, ["grpo.max_num_steps=3", "grpo.val_at_start=false", "grpo.val_at_end=false", ...overrides]), log: () => {} });
  expect(r.steps).toBe(3);
  const metrics = readJsonl(join(dir, "run", "metrics.jsonl"));
  expect(metrics.map((m) => m.step)).toEqual([1, 2, 3]);
  expect(metrics[2]["train/token_mult_prob_error"]).toBeLessThan(1.01);
  expect(readFileSync(join(dir, "run", "checkpoints", "latest"), "utf8").trim()).toBe("step_000003");
}, 300_000);
