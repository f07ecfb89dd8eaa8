import { describe, expect, test } from "vitest";
import type { RolloutOutcome } from "../rollout/outcome.ts";
import type { PoolRow } from "./data.ts";
import { REWARD_SCALING_DEFAULTS, REWARD_SHAPING_DEFAULTS } from "./defaults.ts";
import { gatherStepRollouts } from "./step-rollouts.ts";
import type { RewardSettings } from "./step-rewards.ts";

const rewards: RewardSettings = { failedRolloutPolicy: "drop", scaling: REWARD_SCALING_DEFAULTS, shaping: REWARD_SHAPING_DEFAULTS };

/** Prompt i's rollouts get rewards byPrompt[i]; outcomes carry no samples (rewards are all this reads). */
function setup(byPrompt: number[][]) {
  const pool: PoolRow[] = byPrompt.map((_, i) => ({ id: `p${i}`, agent: "a", row: { i } }));
  let cursor = 0;
  const take = (n: number) => pool.slice(cursor, (cursor += n));
  const generate = async (prompts: PoolRow[]): Promise<RolloutOutcome[]> =>
    prompts.flatMap((p, task) =>
      byPrompt[p.row.i as number].map((reward, k) => ({
        kind: "ok" as const,
        taskIndex: task,
        rolloutIndex: k,
        agent: "a",
        row: p.row,
        timing: { queuedMs: 0, runMs: 0, attempts: 1 },
        result: { reward },
        conversion: { outcome: "ok" as const, samples: [], breaks: [], emptyGenerationCalls: 0, message: null },
      })),
    );
  return { take, generate };
}

describe("a step's generation batches", () => {
  test("groups are numbered across batches, so equal task indices of two batches stay apart", async () => {
    const s = await gatherStepRollouts({
      numPromptsPerStep: 1,
      ...setup([[1, 1], [0, 1]]),
      rewards,
      dynamicSampling: { enabled: true, maxGenBatches: 5, batchMultiplier: 1 },
    });
    expect(s!.genBatches).toBe(2);
    expect(s!.trained.map((r) => [r.group, r.envReward])).toEqual([
      [1, 0],
      [1, 1],
    ]);
    expect(s!.scored).toHaveLength(4); // train/reward sees every generated rollout
    expect(s!.zeroVarianceGroups).toBe(1);
  });

  test("data spent mid-step: the varying groups collected so far are trained; none at all is null", async () => {
    const s = await gatherStepRollouts({
      numPromptsPerStep: 2,
      ...setup([[1, 0], [1, 1], [0, 0]]),
      rewards,
      dynamicSampling: { enabled: true, maxGenBatches: 5, batchMultiplier: 1 },
    });
    expect(s!.prompts.map((p) => p.id)).toEqual(["p0", "p1", "p2"]);
    expect(s!.trained.map((r) => r.envReward)).toEqual([1, 0]);
    const none = await gatherStepRollouts({ numPromptsPerStep: 2, ...setup([]), rewards, dynamicSampling: { enabled: false, maxGenBatches: 1, batchMultiplier: 1 } });
    expect(none).toBeNull();
  });

  test("batch_multiplier sets the prompts per generation batch; surplus varying groups are discarded and counted", async () => {
    const s = await gatherStepRollouts({
      numPromptsPerStep: 2,
      ...setup([[1, 0], [0, 1], [1, 0], [1, 1], [0, 1]]),
      rewards,
      dynamicSampling: { enabled: true, maxGenBatches: 5, batchMultiplier: 2 },
    });
    expect(s!.genBatches).toBe(1);
    expect(s!.prompts).toHaveLength(4);
    expect(s!.trained.map((r) => r.group)).toEqual([0, 0, 1, 1]);
    expect(s!.discardedValidSamples).toBe(2);
  });
});
