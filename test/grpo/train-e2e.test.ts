/**
 * The GRPO loop end to end on a tiny random policy: real Gym servers (simple_agent, calculator,
 * vllm_model proxy as child processes) over the in-process OpenAI server and embedded engine, two
 * steps. Checks what a person reads after a run: metrics.jsonl's fields, the plot, the checkpoint.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { runGrpo } from "../../src/grpo/loop.ts";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import { parseRecipe } from "../../src/grpo/recipe.ts";
import { smallTrainFile, tinyPolicyCheckpoint, tinyRecipe } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-grpo-e2e-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("two GRPO steps through Gym write metrics.jsonl, plot.html and a checkpoint", async () => {
  const raw = tinyRecipe({ init: tinyPolicyCheckpoint(join(tmp, "init")), outDir: join(tmp, "run"), train: smallTrainFile(tmp) });
  const recipe = parseRecipe(raw, ["grpo.max_num_steps=2", "grpo.val_at_start=true", "grpo.val_at_end=true", "run.dump_rollouts=2"]);
  const lines: string[] = [];
  const r = await runGrpo({ recipe, log: (l) => lines.push(l) });
  expect(r.steps).toBe(2);

  const metrics = readJsonl(join(tmp, "run", "metrics.jsonl"));
  expect(metrics.map((m) => m.step)).toEqual([0, 1, 2]);
  expect(metrics[0]["validation/accuracy"]).toBeTypeOf("number");
  for (const m of metrics.slice(1)) {
    for (const k of [
      "train/reward",
      "train/loss",
      "train/kl_penalty",
      "train/token_mult_prob_error",
      "train/gen_kl_error",
      "train/advantages/mean",
      "train/advantages/max",
      "train/is_ratio/mean",
      "train/probs_ratio",
      "train/entropy",
      "train/total_num_tokens",
      "train/turns_per_sample/mean",
      "train/contiguity_breaks",
      "timing/train/generation",
      "timing/train/policy_and_reference_logprobs",
      "timing/train/policy_training",
      "timing/train/refit",
      "timing/train/total_step_time",
      "performance/tokens_per_sec",
    ])
      expect(m[k], k).toBeTypeOf("number");
    expect(m["train/contiguity_breaks"]).toBe(0);
    // the sampler's logprobs are the trainer's: same weights, same math, float32 both
    expect(m["train/token_mult_prob_error"]).toBeLessThan(1.01);
    expect(m["train/policy_version"]).toBe(m.step); // one optimizer step (one refit) per GRPO step
  }
  expect(metrics[2]["validation/accuracy"]).toBeTypeOf("number");
  expect(r.maxTokenMultProbError).toBeLessThan(1.01);

  const plot = readFileSync(join(tmp, "run", "plot.html"), "utf8");
  expect(plot).toContain("<svg");
  expect(plot).toContain("validation accuracy");
  expect(existsSync(join(tmp, "run", "checkpoints", "latest"))).toBe(true);
  expect(readFileSync(join(tmp, "run", "checkpoints", "latest"), "utf8").trim()).toBe("step_000002");
  expect(lines.some((l) => l.startsWith("step 2/2 | reward"))).toBe(true);
  // each validation's dumped rollouts carry the step it ran after (0: the start), one block each
  const dumped = readFileSync(join(tmp, "run", "validation_rollouts.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number });
  expect(dumped.map((d) => d.step)).toEqual([0, 0, 2, 2]);
});
