import { describe, expect, test } from "vitest";
import { VersionLedger } from "../../engine/version-ledger.ts";
import type { RolloutOutcome } from "../../rollout/outcome.ts";
import { gymResultToSamples } from "../../rollout/trajectory.ts";
import { PromptStream, type PoolRow } from "../data.ts";
import { REWARD_SCALING_DEFAULTS, REWARD_SHAPING_DEFAULTS } from "../defaults.ts";
import type { RewardSettings } from "../step-rewards.ts";
import { AsyncRolloutSource } from "./source.ts";
import { VersionSteps } from "./versions.ts";

const rewards: RewardSettings = { failedRolloutPolicy: "drop", scaling: REWARD_SCALING_DEFAULTS, shaping: REWARD_SHAPING_DEFAULTS };
const seedOf = (batch: number) => (task: number, rollout: number) => batch * 100 + task * 10 + rollout;

/**
 * 6 prompts, 2 per step, 2 rollouts each with generated tokens [10 + task, 20 + rollout]; the
 * engine's record (a real ledger) says each token came from versionOf(batch, task, the version live then).
 */
function setup(maxAge: number, versionOf: (batch: number, task: number, current: number) => number) {
  const pool: PoolRow[] = Array.from({ length: 6 }, (_, i) => ({ id: `p${i}`, agent: "a", row: { i } }));
  const stream = new PromptStream(pool, 0, 1);
  const order = stream.orderOf(0).map((i) => `p${i}`);
  const ledger = new VersionLedger();
  let version = 0;
  const source = new AsyncRolloutSource({
    stream,
    numPromptsPerStep: 2,
    maxAge,
    generate: async (prompts, batch) =>
      prompts.flatMap((p, task) =>
        [0, 1].map((k): RolloutOutcome => {
          const gen = [10 + task, 20 + k];
          ledger.note(seedOf(batch)(task, k), { promptTokenIds: [1], generationTokenIds: gen, generationLogProbs: [-1, -1], finishReason: "stop", policyVersion: 0, policyVersions: [0], generationPolicyVersions: gen.map(() => versionOf(batch, task, version)) });
          const result = { reward: k, response: { output: [{ type: "message", prompt_token_ids: [1], generation_token_ids: gen, generation_log_probs: [-1, -1] }], status: "completed" } };
          return { kind: "ok", taskIndex: task, rolloutIndex: k, agent: "a", row: p.row, timing: { queuedMs: 0, runMs: 0, attempts: 1 }, result, conversion: gymResultToSamples(result as never) };
        }),
      ),
    lookup: (batch, startVersion) => ({ ledger, seedOf: seedOf(batch), startVersion, versionOffset: 0 }),
    currentVersion: () => version,
    rewards,
    startStep: 0,
    startVersion: 0,
  });
  const done = (step: number) => source.stepDone(step, (version = step));
  return { source, order, done, ledger };
}

describe("AsyncRolloutSource", () => {
  test("a group older than the bound is dropped and counted, never trained; the step fills from the next batch", async () => {
    // batch 2's first prompt claims version 0 (stale weights) although step 1's weights were live
    const { source, order, done, ledger } = setup(0, (batch, task, live) => (batch === 2 && task === 0 ? 0 : live));
    try {
      const s1 = await source.next(1);
      expect(s1!.prompts.map((p) => p.id)).toEqual(order.slice(0, 2));
      expect(s1!.trained.map((r) => r.group)).toEqual([0, 0, 1, 1]);
      expect(source.stepMetrics()).toMatchObject({ "async/trajectory_age/max": 0, "async/dropped_groups": 0, "async/versions_recorded_frac": 1, "async/token_share/age_0": 1 });
      done(1);
      const s2 = await source.next(2);
      expect(s2!.prompts.map((p) => p.id)).toEqual([order[3], order[4]]); // order[2] dropped
      expect(source.stepMetrics()).toMatchObject({ "async/dropped_groups": 1, "async/trajectory_age/max": 0 });
      expect(source.position).toEqual({ epoch: 0, cursor: 5 });
      done(2);
      // batch 3's second group was generated on step 1's weights: one step too old for step 3
      expect(await source.next(3)).toBeNull();
      expect(source.totals.droppedGroups).toBe(2);
      expect(source.position).toEqual({ epoch: 1, cursor: 0 });
      expect(ledger.size).toBe(0); // every batch's records read and forgotten
    } finally {
      await source.close();
    }
  });

  test("with age 1, batch k + 1 is generated while step k trains; nothing is dropped", async () => {
    const { source, done } = setup(1, (_b, _t, live) => live);
    try {
      const s1 = await source.next(1);
      expect(s1!.prompts).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 10));
      expect(source.stepMetrics()["async/buffer_groups"]).toBe(2); // batch 2 already generated, before step 1's weights
      done(1);
      await source.next(2);
      expect(source.stepMetrics()).toMatchObject({ "async/trajectory_age/max": 1, "async/trajectory_age/groups_1": 2, "async/token_share/age_1": 1, "async/dropped_groups": 0 });
    } finally {
      await source.close();
    }
  });
});

describe("VersionSteps", () => {
  test("versions between two publications count as the older step", () => {
    const v = new VersionSteps(0, 0);
    v.publish(1, 3); // step 1 took three optimizer steps: versions 1, 2 are mid-step
    v.publish(2, 4);
    expect([0, 1, 2, 3, 4].map((x) => v.stepOf(x))).toEqual([0, 0, 0, 1, 2]);
    expect(v.ageAt(3, 2)).toBe(2);
    expect(v.ageAt(3, 4)).toBe(0);
  });
});
