/**
 * `gymrl demo` end to end at toy size (a tiny model, 3 SFT steps, one GRPO step through real Gym
 * servers, then the SFT-only control): the final JSON reports what was measured — with
 * grpo.val_at_start=false "before" is null with its reason, not the step-1 figure — and the control
 * continues the warm start for GRPO's step time and is validated the same way. With --init the
 * warm start is a user's Hugging Face directory, whose chat format the whole run keeps; with a list
 * of SFT configs it runs in phases, each from the one before.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { onPolicyLayout } from "../../src/grpo/demo.ts";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import { demonstrations } from "../../src/environments/calculator/tasks.ts";
import { loadChatFormat } from "../../src/tokenizer/index.ts";
import { writeTinyHfModel } from "../support/hf-model-dir.ts";
import { REPO, smallTrainFile, tinyRecipe, writeRecipe } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-demo-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SFT_YAML = `
model: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16 }
train: { lr: 1.0e-3, steps: 3, batch_tokens: 1024, warmup_steps: 0, schedule: constant, held_out: 0, eval_every: 0, log_every: 1 }
`;

function demo(out: string, extra: string[], sftConfig = join(tmp, "sft.yaml")): { json: Record<string, unknown>; stdout: string } {
  const data = join(tmp, "demos.jsonl");
  writeFileSync(data, demonstrations({ split: "train", n: 20, seed: 1 }).map((c) => JSON.stringify(onPolicyLayout(c)) + "\n").join(""));
  writeFileSync(join(tmp, "sft.yaml"), SFT_YAML);
  const recipe = writeRecipe(join(tmp, "grpo.yaml"), tinyRecipe({ init: "unused", outDir: "unused", train: smallTrainFile(tmp) }));
  const args = ["demo", "--out", out, "--config", recipe, "--sft-config", sftConfig, "--data", data, "grpo.max_val_samples=2", ...extra];
  const r = spawnSync(process.execPath, [join(REPO, "bin/gymrl.js"), ...args], { cwd: REPO, encoding: "utf8", timeout: 240_000 });
  expect(r.status, r.stderr).toBe(0);
  const last = r.stdout.trim().split("\n").at(-1)!;
  return { json: JSON.parse(last) as Record<string, unknown>, stdout: r.stdout };
}

test("tiny gymrl demo: measured before/after, and the SFT-only control for GRPO's step time", { timeout: 300_000 }, () => {
  const out = join(tmp, "run");
  const { json, stdout } = demo(out, ["grpo.max_num_steps=1", "grpo.val_at_start=false"]);
  // "before" was not measured: say so (the old report took step 1's validation for it)
  expect(json.val_accuracy_before).toBeNull();
  expect((json.not_measured as Record<string, string>).val_accuracy_before).toMatch(/grpo\.val_at_start=false/);
  expect(json.val_accuracy_after).toBeTypeOf("number");
  const grpo = readJsonl(join(out, "grpo", "metrics.jsonl"));
  expect(grpo.map((l) => l.step)).toEqual([1]);
  expect(json.val_accuracy_after).toBe(grpo[0]["validation/accuracy"]);
  expect(json.grpo_steps).toBe(1);

  // the control: resumed from the warm start (step 3) and trained until GRPO's step time was spent
  const budget = grpo[0]["timing/train/total_step_time"] as number;
  expect(json.grpo_step_seconds).toBeCloseTo(budget, 1);
  const runJson = JSON.parse(readFileSync(join(out, "control", "sft", "run.json"), "utf8"));
  expect(runJson).toMatchObject({ init: join(out, "sft"), resume_step: 3 });
  const sft = readJsonl(join(out, "control", "sft", "metrics.jsonl"));
  expect(sft[0].step).toBe(4);
  expect(json.control_sft_steps).toBe(sft.length);
  const lastStep = sft.at(-1)!;
  expect(lastStep.elapsed_s as number).toBeGreaterThanOrEqual(budget);
  if (sft.length > 1) expect(sft.at(-2)!.elapsed_s as number).toBeLessThan(budget); // stopped at the first step past it
  expect(lastStep.lr).toBe(1e-3); // the warm start's constant lr, continued
  // validated the same way: a validation-only GRPO run on the control's checkpoint, step 0
  const val = readJsonl(join(out, "control", "validation", "metrics.jsonl"));
  expect(val.map((l) => l.step)).toEqual([0]);
  expect(json.control_val_accuracy).toBe(val[0]["validation/accuracy"]);
  expect(val[0]["validation/num_samples"]).toBe(grpo[0]["validation/num_samples"]);
  expect(stdout).toMatch(/control \(SFT only, \d+ more steps in \d+ s\): [\d.]+/);
});

test("tiny gymrl demo --no-control: the control is null and says why", { timeout: 300_000 }, () => {
  const { json } = demo(join(tmp, "nocontrol"), ["--no-control", "grpo.max_num_steps=0"]);
  expect(json.val_accuracy_before).toBeTypeOf("number");
  expect(json).toMatchObject({ val_accuracy_after: null, control_val_accuracy: null, control_sft_steps: null, grpo_steps: 0 });
  expect(json.not_measured).toEqual({ val_accuracy_after: "no GRPO step ran", control_val_accuracy: "the control was not run (--no-control)" });
});

test("tiny gymrl demo --init: the warm start and GRPO run on a user's Hugging Face directory", { timeout: 300_000 }, () => {
  const init = join(tmp, "hf-qwen3");
  const config = writeTinyHfModel(init, "qwen3");
  const out = join(tmp, "from-hf");
  const { json, stdout } = demo(out, ["--init", init, "--no-control", "grpo.max_num_steps=1"]);
  expect(stdout).toContain(`warm start (calculator from ${init})`);
  expect(JSON.parse(readFileSync(join(out, "sft", "run.json"), "utf8")).init).toBe(init);
  // the SFT config's fresh-model section is moot: the warm start is the directory's model, full vocabulary
  const sftConfig = JSON.parse(readFileSync(join(out, "sft", "checkpoint", "config.json"), "utf8"));
  expect(sftConfig).toMatchObject({ hidden_size: config.hidden_size, vocab_size: config.vocab_size });
  expect(json.grpo_steps).toBe(1);
  const m = readJsonl(join(out, "grpo", "metrics.jsonl")).find((l) => l.step === 1)!;
  expect(m["train/token_mult_prob_error"]).toBeLessThan(1.01);
  expect(m["train/contiguity_breaks"]).toBe(0);
  // GRPO's checkpoint still speaks the directory's chat format
  const policy = loadChatFormat(join(out, "grpo", "checkpoints", "step_000001", "policy"));
  expect(policy.chatTemplate.source).toBe(loadChatFormat(init).chatTemplate.source);
});

test("tiny gymrl demo with two SFT phases: the second starts from the first, GRPO and the control from the second", { timeout: 300_000 }, () => {
  const second = join(tmp, "sft-2.yaml");
  writeFileSync(second, "train: { lr: 5.0e-4, steps: 2, batch_tokens: 512, warmup_steps: 0, schedule: constant, seed: 5, held_out: 0, eval_every: 0, log_every: 1 }\n");
  const out = join(tmp, "phases");
  const { json, stdout } = demo(out, ["grpo.max_num_steps=1"], `${join(tmp, "sft.yaml")},${second}`);
  expect(stdout).toContain("phase 2/2");
  expect(JSON.parse(readFileSync(join(out, "sft", "run.json"), "utf8")).init).toBeNull();
  const phase2 = JSON.parse(readFileSync(join(out, "sft-2", "run.json"), "utf8"));
  expect(phase2).toMatchObject({ init: join(out, "sft") });
  // its own schedule and a fresh optimizer: steps 1..2 at its lr, not the first phase's 4.. at 1e-3
  const steps = readJsonl(join(out, "sft-2", "metrics.jsonl")).filter((l) => l.loss !== undefined);
  expect(steps.map((l) => [l.step, l.lr])).toEqual([[1, 5e-4], [2, 5e-4]]);
  expect(readFileSync(join(out, "grpo", "recipe.resolved.yaml"), "utf8")).toContain(join(out, "sft-2"));
  // the control continues the last phase (its step 2, its lr)
  expect(JSON.parse(readFileSync(join(out, "control", "sft", "run.json"), "utf8"))).toMatchObject({ init: join(out, "sft-2"), resume_step: 2 });
  expect(json.grpo_steps).toBe(1);
});
