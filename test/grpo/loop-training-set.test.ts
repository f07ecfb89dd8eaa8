/**
 * What a GRPO step trains on, read back from the batches the loop hands the optimizer (a scripted
 * agent, a recording trainer; helpers-loop.ts): failed rollouts under each failed_rollout_policy
 * (train/reward and the advantages see the same rollouts), dynamic sampling, overlong filtering,
 * reward scaling and shaping. Advantages are checked against a leave-one-out computation written
 * out here.
 */
import { describe, expect, test } from "vitest";
import { AGENT, runScripted, type RolloutPlan } from "./helpers-loop.ts";

/** NeMo RL's leave-one-out advantage of member i, written out: baseline and Bessel std of the others. */
function loo(rewards: number[], i: number, normalize = true): number {
  if (rewards.every((r) => r === rewards[0])) return 0;
  const others = rewards.filter((_, j) => j !== i);
  const b = others.reduce((a, x) => a + x, 0) / others.length;
  const sd = others.length > 1 ? Math.sqrt(others.reduce((a, x) => a + (x - b) ** 2, 0) / (others.length - 1)) : 0;
  const a = rewards[i] - b;
  return normalize && sd > 0 ? a / (sd + 1e-6) : a;
}

const r = (reward: number): RolloutPlan => ({ reward });

describe("failed rollouts: train/reward and the trained batch see the same rollouts", () => {
  // one prompt, four rollouts; the second crashes its environment (HTTP 500, no retries)
  const plans = [[r(1), { fail: true }, r(0), r(1)]];

  test("drop (default): the failure leaves its group, the metric and the baseline", async () => {
    const { run, trained } = await runScripted(plans, []);
    const m = run.lines[0];
    expect(m["train/failed_rollouts"]).toBe(1);
    expect(m["train/failed_rollouts_scored_as_failure"]).toBe(0);
    expect(m["train/reward"]).toBeCloseTo(2 / 3, 12);
    expect(m[`train/${AGENT}/reward`]).toBeCloseTo(2 / 3, 12);
    const got = trained[0].map((s) => [s.rollout, s.advantage]);
    const kept = [1, 0, 1]; // rollouts 0, 2, 3
    expect(got.map(([k]) => k)).toEqual([0, 2, 3]);
    got.forEach(([, a], i) => expect(a).toBeCloseTo(loo(kept, i), 9));
  });

  test("score_as_failure: the failure is a 0 in its group's baseline and in train/reward, with nothing of its own to train", async () => {
    const { run, trained } = await runScripted(plans, ["grpo.failed_rollout_policy=score_as_failure"]);
    const m = run.lines[0];
    expect(m["train/failed_rollouts"]).toBe(1);
    expect(m["train/failed_rollouts_scored_as_failure"]).toBe(1);
    expect(m["train/reward"]).toBeCloseTo(0.5, 12);
    const group = [1, 0, 0, 1];
    expect(trained[0].map((s) => s.rollout)).toEqual([0, 2, 3]);
    for (const s of trained[0]) expect(s.advantage).toBeCloseTo(loo(group, s.rollout), 9);
    // the checker can fail: the two policies train the reward-1 rollouts with different advantages
    expect(loo(group, 0)).not.toBeCloseTo(loo([1, 0, 1], 0), 3);
  });

  test("abort: the run stops with the failure, naming the policy", async () => {
    await expect(runScripted(plans, ["grpo.failed_rollout_policy=abort"])).rejects.toThrow(/failed \(server_error\).*failed_rollout_policy is abort/);
  });
});

describe("settings that change what is trained", () => {
  test("dynamic sampling: groups whose rewards agree are not trained; more prompts are generated to fill the step", async () => {
    // prompts 0 and 2 agree within their group, 1 and 3 vary; two prompts per step
    const plans = [
      [r(1), r(1)],
      [r(1), r(0)],
      [r(0), r(0)],
      [r(0), r(1)],
    ];
    const off = await runScripted(plans, ["grpo.num_prompts_per_step=2"]);
    const on = await runScripted(plans, ["grpo.num_prompts_per_step=2", "grpo.use_dynamic_sampling=true"]);
    const promptsOf = (t: { prompt: number }[]) => [...new Set(t.map((s) => s.prompt))].sort();
    expect(promptsOf(on.trained[0])).toEqual([1, 3]);
    expect(on.trained[0]).toHaveLength(4);
    const m = on.run.lines[0];
    const consumed = m["train/num_rollouts"] as number;
    expect(m["train/dynamic_sampling_num_gen_batches"]).toBe(consumed / 4); // 2 prompts × 2 rollouts per batch
    expect(m["train/dynamic_sampling_num_zero_variance_groups"]).toBe(consumed / 2 - 2);
    expect(m["train/filtered_reward"]).toBe(0.5);
    // without it, the step trains on the first two prompts whatever their rewards (this seed's order has a zero-variance one)
    expect(promptsOf(off.trained[0])).not.toEqual([1, 3]);
    expect(off.run.lines[0]["train/dynamic_sampling_num_gen_batches"]).toBeUndefined();
  });

  test("dynamic sampling gives up after dynamic_sampling_max_gen_batches with an error", async () => {
    const plans = Array.from({ length: 6 }, () => [r(1), r(1)]);
    await expect(runScripted(plans, ["grpo.num_prompts_per_step=1", "grpo.use_dynamic_sampling=true", "grpo.dynamic_sampling_max_gen_batches=1"])).rejects.toThrow(
      /dynamic sampling reached its 1 generation batches with 0\/1/,
    );
  });

  test("overlong filtering: a truncated sample gets sampleMask 0 but stays in its group's baseline", async () => {
    const plans = [[{ reward: 1, truncated: true }, r(0), r(1)]];
    const off = await runScripted(plans, []);
    const on = await runScripted(plans, ["grpo.overlong_filtering=true"]);
    expect(off.trained[0].map((s) => s.sampleMask)).toEqual([1, 1, 1]);
    expect(on.trained[0].map((s) => s.sampleMask)).toEqual([0, 1, 1]);
    expect(on.run.lines[0]["train/num_overlong_filtered"]).toBe(1);
    on.trained[0].forEach((s, i) => expect(s.advantage).toBeCloseTo(loo([1, 0, 1], i), 9));
  });

  test("reward shaping: the stop-properly penalty and DAPO's overlong penalty change the rewards advantages use", async () => {
    // both succeed, but the first was cut off: unshaped they agree (advantage 0)
    const plans = [[{ reward: 1, truncated: true }, r(1)]];
    const off = await runScripted(plans, []);
    expect(off.trained[0].map((s) => s.advantage)).toEqual([0, 0]);
    const stop = await runScripted(plans, ["grpo.reward_shaping.enabled=true", "grpo.reward_shaping.stop_properly_penalty_coef=0.25", "grpo.normalize_rewards=false"]);
    expect(stop.trained[0].map((s) => s.advantage)).toEqual([0.25 - 1, 1 - 0.25]);
    expect(stop.run.lines[0]["train/shaped_reward"]).toBeCloseTo((0.25 + 1) / 2, 12);
    expect(stop.run.lines[0]["train/reward"]).toBe(1); // the environment's own verdict
    // DAPO: 10 tokens max, the last 4 a buffer; 8 generated tokens cost (8 - 6) / 4 = 0.5
    const long = [[{ reward: 1, genTokens: 8 }, { reward: 1, genTokens: 2 }]];
    const dapo = await runScripted(long, [
      "grpo.reward_shaping.enabled=true",
      "grpo.reward_shaping.max_response_length=10",
      "grpo.reward_shaping.overlong_buffer_length=4",
      "grpo.reward_shaping.overlong_buffer_penalty=1",
      "grpo.normalize_rewards=false",
    ]);
    expect(dapo.trained[0].map((s) => s.advantage)).toEqual([0.5 - 1, 1 - 0.5]);
  });

  test("seq_logprob_error_threshold masks sequences whose sampler logprobs drift from the trainer's, and counts them", async () => {
    // the scripted sampler's logprobs are -token/100, the recording trainer's 0: tokens 100+q and 200+k give exp(|gen - prev|) of about e and e^2
    const plans = [[r(1), r(0)]];
    const loose = await runScripted(plans, ["grpo.seq_logprob_error_threshold=100"]);
    const tight = await runScripted(plans, ["grpo.seq_logprob_error_threshold=1.5"]);
    expect(loose.trained[0].map((s) => s.sampleMask)).toEqual([1, 1]);
    expect(loose.run.lines[0]["train/num_masked_seqs_by_logprob_error"]).toBe(0);
    expect(tight.trained[0].map((s) => s.sampleMask)).toEqual([0, 0]);
    expect(tight.run.lines[0]["train/num_masked_seqs_by_logprob_error"]).toBe(2);
    expect(tight.run.lines[0]["train/masked_correct_pct"]).toBe(0.5);
  });

  test("reward scaling maps rewards before advantages", async () => {
    const plans = [[r(1), r(0), r(2)]];
    const scaled = await runScripted(plans, ["grpo.reward_scaling.enabled=true", "grpo.reward_scaling.target_min=-1", "grpo.reward_scaling.target_max=1", "grpo.normalize_rewards=false"]);
    // source [0, 1]: 2 is clamped to 1, then 0 → -1 and 1 → 1
    const group = [1, -1, 1];
    scaled.trained[0].forEach((s, i) => expect(s.advantage).toBeCloseTo(loo(group, i, false), 12));
    expect(scaled.run.lines[0]["train/reward_scaling/num_out_of_range"]).toBe(1);
  });
});
