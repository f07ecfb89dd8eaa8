/**
 * Async GRPO through the real loop (scripted agent, recording trainer; helpers-loop.ts): with age 0
 * the batches equal the synchronous loop's, token for token; with age 1 generation runs a step
 * ahead and no trained group is older than the bound; a resume trains what the uninterrupted run
 * trains, no prompt twice and none lost.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import type { TrainBatch } from "../../src/grpo/trainer.ts";
import { runScripted, type RolloutPlan } from "./helpers-loop.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-async-loop-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// 8 prompts × 4 rollouts, rewards varying within most groups
const plans: RolloutPlan[][] = Array.from({ length: 8 }, (_, q) => Array.from({ length: 4 }, (_, k) => ({ reward: (q * 7 + k * 3) % 4 === 0 ? 1 : 0 })));
const base = ["grpo.num_prompts_per_step=2", "grpo.max_num_steps=4", "loss_fn.use_importance_sampling_correction=true"];
const asyncOn = (age: number) => ["grpo.async_grpo.enabled=true", `grpo.async_grpo.max_trajectory_age_steps=${age}`];
// arrival order scrambled: the batches must not depend on it
const delayMs = (q: number, k: number) => ((q * 5 + k * 11) % 7) * 3;

const plain = (bs: TrainBatch[]) => bs.map((b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, Array.from(v as ArrayLike<number>)])));

describe("async GRPO loop", () => {
  test("max_trajectory_age_steps 0 reproduces the synchronous loop's batches exactly (same seed)", async () => {
    const sync = await runScripted(plans, base, { seedTokens: true, delayMs });
    const asy = await runScripted(plans, [...base, ...asyncOn(0)], { seedTokens: true, delayMs });
    expect(sync.batches).toHaveLength(4);
    expect(plain(asy.batches)).toEqual(plain(sync.batches));
    // the seeds differ step to step, so equal batches mean equal seeds, not a seed-blind agent
    const seedTokens = sync.batches.map((b) => b.tokens[5]);
    expect(new Set(seedTokens).size).toBeGreaterThan(1);
    for (const l of asy.run.lines) expect(l["async/trajectory_age/max"]).toBe(0);
  });

  test("max_trajectory_age_steps 1: the next batch is generated during training; no trained group is older than 1 step", async () => {
    const r = await runScripted(plans, [...base, ...asyncOn(1)], { seedTokens: true, delayMs, trainMs: 150 });
    expect(r.batches).toHaveLength(4);
    const steps = r.run.lines.filter((l) => typeof l["async/trajectory_age/max"] === "number");
    expect(steps).toHaveLength(4);
    for (const l of steps) {
      expect(l["async/trajectory_age/max"]).toBeLessThanOrEqual(1);
      expect(l["async/dropped_groups"]).toBe(0);
      expect(Number(l["async/trajectory_age/groups_0"]) + Number(l["async/trajectory_age/groups_1"])).toBe(2);
    }
    // from step 2 on, the batch was generated on the weights one step behind: off-policy by one
    expect(steps.slice(1).every((l) => l["async/trajectory_age/groups_1"] === 2)).toBe(true);
    // the trainer waited less than the generation took: some of it overlapped training
    const waited = steps.slice(1).reduce((a, l) => a + Number(l["async/trainer_wait_s"]), 0);
    expect(waited).toBeLessThan(0.15 * 3);
    // every prompt trained once, in the stream's order
    const prompts = readJsonl(join(r.run.runDir, "prompts.jsonl")).flatMap((l) => l.prompts as unknown as string[]);
    expect(prompts).toHaveLength(8);
    expect(new Set(prompts).size).toBe(8);
  });

  test("resume: no prompt trained twice or lost; the batches equal the uninterrupted run's", async () => {
    const overrides = [...base, ...asyncOn(1), "checkpointing.enabled=true", "checkpointing.save_period=1"];
    const whole = await runScripted(plans, overrides, { seedTokens: true, delayMs });
    const dir = join(tmp, "resumed");
    // two steps, then stop with a batch generated ahead and never trained
    const first = await runScripted(plans, [...overrides.filter((o) => !o.startsWith("grpo.max_num_steps")), "grpo.max_num_steps=2"], { seedTokens: true, delayMs, runDir: dir });
    const second = await runScripted(plans, overrides, { seedTokens: true, delayMs, runDir: dir, resume: true });
    expect(first.batches).toHaveLength(2);
    expect(second.batches).toHaveLength(2);
    expect(plain([...first.batches, ...second.batches])).toEqual(plain(whole.batches));
    const prompts = readJsonl(join(dir, "prompts.jsonl")).flatMap((l) => l.prompts as unknown as string[]);
    expect(prompts).toEqual(readJsonl(join(whole.run.runDir, "prompts.jsonl")).flatMap((l) => l.prompts as unknown as string[]));
    expect(new Set(prompts).size).toBe(8);
  });

  test("the recipe refuses async without importance-sampling correction, and with dynamic sampling", async () => {
    await expect(runScripted(plans, ["grpo.async_grpo.enabled=true"])).rejects.toThrow(/use_importance_sampling_correction/);
    await expect(runScripted(plans, [...base, ...asyncOn(1), "grpo.use_dynamic_sampling=true"])).rejects.toThrow(/dynamic_sampling/);
  });
});
