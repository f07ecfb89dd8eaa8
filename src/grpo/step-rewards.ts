/**
 * A step's rollout outcomes → the rewards its advantages use, one per rollout that takes part:
 *   1. failed rollouts, by `grpo.failed_rollout_policy`: dropped from their group, scored as
 *      reward 0, or the run stops (NeMo RL's synchronous loop raises when a Gym /run fails);
 *   2. `grpo.reward_scaling`, then `grpo.reward_shaping` (NeMo RL's order; reward-shaping.ts).
 * Whatever takes part here is what train/reward averages, so the metric and the gradient see the
 * same rollouts. Not here: the choice of groups (step-rollouts.ts), advantages and the batch
 * (step-batch.ts).
 */
import type { RolloutOutcome, RolloutSuccess } from "../rollout/outcome.ts";
import type { RewardScalingConfig, RewardShapingConfig } from "./defaults.ts";
import type { Recipe } from "./recipe.ts";
import { applyRewardShaping, scaleRewards } from "./reward-shaping.ts";

export type FailedRolloutPolicy = Recipe["grpo"]["failed_rollout_policy"];

export interface RewardSettings {
  failedRolloutPolicy: FailedRolloutPolicy;
  scaling: RewardScalingConfig;
  /** maxResponseLength resolved (never null when enabled without the stop-properly coef) */
  shaping: RewardShapingConfig;
}

/** The recipe's reward settings; a null max_response_length is the engine's context (NeMo RL: max_total_sequence_length). */
export function rewardSettingsOf(recipe: Recipe, maxModelLen: number): RewardSettings {
  const sc = recipe.grpo.reward_scaling;
  const sh = recipe.grpo.reward_shaping;
  return {
    failedRolloutPolicy: recipe.grpo.failed_rollout_policy,
    scaling: { enabled: sc.enabled, sourceMin: sc.source_min, sourceMax: sc.source_max, targetMin: sc.target_min, targetMax: sc.target_max },
    shaping: {
      enabled: sh.enabled,
      overlongBufferLength: sh.overlong_buffer_length,
      overlongBufferPenalty: sh.overlong_buffer_penalty,
      maxResponseLength: sh.max_response_length ?? maxModelLen,
      stopProperlyPenaltyCoef: sh.stop_properly_penalty_coef,
    },
  };
}

/** One rollout that takes part in the step's advantages. */
export interface ScoredRollout {
  /** its prompt group, unique within the step (generation batches are offset apart) */
  group: number;
  agent: string;
  /** the environment's reward; 0 for a failure scored as one */
  envReward: number;
  /** after scaling, before shaping: what dynamic sampling looks at (DAPO filters on the raw outcome) */
  unshaped: number;
  /** after scaling and shaping: what the advantages use */
  reward: number;
  /** the rollout's result and samples; null for a failure scored as reward 0 (nothing to train) */
  ok: RolloutSuccess | null;
}

export interface ScoredRollouts {
  rollouts: ScoredRollout[];
  /** rollouts that failed after retries, whatever the policy did with them */
  failed: number;
  /** failed rollouts that entered their group as reward 0 */
  scoredAsFailure: number;
  /** rewards outside reward_scaling's source range (clamped) */
  numOutOfRange: number;
}

/** A training rollout failed and the recipe says stop (failed_rollout_policy: abort). */
export class FailedRolloutError extends Error {
  override readonly name = "FailedRolloutError";
}

/** Outcomes (one generation batch) → scored rollouts; `groupOffset` is added to each task index. */
export function scoreRollouts(outcomes: readonly RolloutOutcome[], groupOffset: number, s: RewardSettings): ScoredRollouts {
  const kept: { o: RolloutOutcome; ok: RolloutSuccess | null; env: number }[] = [];
  let failed = 0;
  for (const o of outcomes) {
    if (o.kind === "ok") {
      kept.push({ o, ok: o, env: Number(o.result.reward ?? 0) });
      continue;
    }
    failed++;
    if (s.failedRolloutPolicy === "abort") {
      throw new FailedRolloutError(
        `rollout (task ${o.taskIndex}, rollout ${o.rolloutIndex}) of agent '${o.agent}' failed (${o.errorClass}): ${o.message}; ` +
          "grpo.failed_rollout_policy is abort (drop or score_as_failure keep training)",
      );
    }
    if (s.failedRolloutPolicy === "score_as_failure") kept.push({ o, ok: null, env: 0 });
  }
  const scaled = scaleRewards(kept.map((k) => k.env), s.scaling);
  // shaping reads each rollout's generated tokens (all its samples) and whether it hit a length limit
  const samplesOf = (k: (typeof kept)[number]) => k.ok?.conversion.samples ?? [];
  const shaped = applyRewardShaping(
    scaled.rewards,
    {
      responseLengths: kept.map((k) => samplesOf(k).reduce((a, x) => a + x.lossMask.reduce((p, q) => p + q, 0), 0)),
      truncated: kept.map((k) => samplesOf(k).some((x) => x.truncated)),
    },
    s.shaping,
  );
  const rollouts = kept.map((k, i) => ({
    group: k.o.taskIndex + groupOffset,
    agent: k.o.agent,
    envReward: k.env,
    unshaped: scaled.rewards[i],
    reward: shaped.rewards[i],
    ok: k.ok,
  }));
  return { rollouts, failed, scoredAsFailure: kept.filter((k) => k.ok === null).length, numOutOfRange: scaled.numOutOfRange };
}

/** Mean of the environment's rewards over scored rollouts, overall and per agent (0 when none). */
export function meanRewards(rollouts: readonly ScoredRollout[]): { mean: number; perAgent: Record<string, number> } {
  const by = new Map<string, number[]>();
  for (const r of rollouts) by.set(r.agent, [...(by.get(r.agent) ?? []), r.envReward]);
  const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const perAgent: Record<string, number> = {};
  for (const [a, rs] of by) perAgent[a] = avg(rs);
  return { mean: avg(rollouts.map((r) => r.envReward)), perAgent };
}
