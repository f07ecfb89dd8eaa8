/**
 * A step's generation: prompts → rollouts → scored rollouts (step-rewards.ts), and with
 * `grpo.use_dynamic_sampling` (DAPO, NeMo RL's `dynamic_sampling`) the loop that keeps only prompt
 * groups whose rewards vary and generates further batches of floor(num_prompts_per_step ×
 * batch_multiplier) prompts until num_prompts_per_step such groups are in hand. Past the batches
 * refillStatus allows (dynamic_sampling_max_gen_batches) it is an error, as in NeMo RL; data
 * running out trains on the groups collected so far. Generation itself is the caller's (`generate`), so this
 * runs without Gym in tests.
 */
import type { RolloutOutcome } from "../rollout/outcome.ts";
import type { PoolRow } from "./data.ts";
import { refillStatus, selectVaryingGroups } from "./dynamic-sampling.ts";
import { scoreRollouts, type RewardSettings, type ScoredRollout } from "./step-rewards.ts";

export interface DynamicSamplingSettings {
  enabled: boolean;
  maxGenBatches: number;
  batchMultiplier: number;
}

export interface GatherOptions {
  numPromptsPerStep: number;
  /** the next n prompts (fewer, or none, when the data is spent) */
  take(n: number): PoolRow[];
  /** rollouts for these prompts, num_generations_per_prompt each, task index = position in `prompts` */
  generate(prompts: PoolRow[]): Promise<RolloutOutcome[]>;
  rewards: RewardSettings;
  dynamicSampling: DynamicSamplingSettings;
}

export interface StepRollouts {
  /** prompts consumed this step, every generation batch */
  prompts: PoolRow[];
  /** every outcome of every generation batch */
  outcomes: RolloutOutcome[];
  /** every scored rollout generated (train/reward averages these) */
  scored: ScoredRollout[];
  /** the rollouts the step trains on: all of `scored`, or dynamic sampling's chosen groups */
  trained: ScoredRollout[];
  failed: number;
  scoredAsFailure: number;
  numOutOfRange: number;
  genBatches: number;
  /** dynamic sampling: groups left out because their rewards did not vary */
  zeroVarianceGroups: number;
  /** dynamic sampling: rollouts of varying groups beyond what the step needed (NeMo RL's num_discarded_valid_samples) */
  discardedValidSamples: number;
}

/** A step with nothing gathered yet, from genBatches generation batches. */
export function emptyStepRollouts(genBatches: number): StepRollouts {
  return { prompts: [], outcomes: [], scored: [], trained: [], failed: 0, scoredAsFailure: 0, numOutOfRange: 0, genBatches, zeroVarianceGroups: 0, discardedValidSamples: 0 };
}

/** Runs the step's generation batches; null when the data gave no prompt at all. */
export async function gatherStepRollouts(opts: GatherOptions): Promise<StepRollouts | null> {
  const ds = opts.dynamicSampling;
  const perBatch = ds.enabled ? Math.floor(opts.numPromptsPerStep * ds.batchMultiplier) : opts.numPromptsPerStep;
  const out = emptyStepRollouts(0);
  const keptGroups: ScoredRollout[][] = [];
  for (;;) {
    const prompts = opts.take(perBatch);
    if (prompts.length === 0) break;
    const outcomes = await opts.generate(prompts);
    const s = scoreRollouts(outcomes, out.prompts.length, opts.rewards);
    out.prompts.push(...prompts);
    out.outcomes.push(...outcomes);
    out.scored.push(...s.rollouts);
    out.failed += s.failed;
    out.scoredAsFailure += s.scoredAsFailure;
    out.numOutOfRange += s.numOutOfRange;
    out.genBatches++;
    if (!ds.enabled) {
      out.trained = s.rollouts;
      return out;
    }
    const sel = selectVaryingGroups(
      s.rollouts.map((r) => r.unshaped),
      s.rollouts.map((r) => r.group),
    );
    out.zeroVarianceGroups += sel.droppedGroups.length;
    for (const g of sel.keptGroups) keptGroups.push(s.rollouts.filter((r) => r.group === g));
    const status = refillStatus({
      groupsCollected: keptGroups.length,
      numPromptsPerStep: opts.numPromptsPerStep,
      genBatches: out.genBatches,
      maxGenBatches: ds.maxGenBatches,
      batchMultiplier: ds.batchMultiplier,
    });
    if (status.kind === "complete") {
      const used = keptGroups.slice(0, opts.numPromptsPerStep);
      out.discardedValidSamples = keptGroups.slice(opts.numPromptsPerStep).reduce((a, g) => a + g.length, 0);
      out.trained = used.flat();
      return out;
    }
    if (status.kind === "exhausted") throw new Error(status.message);
  }
  if (out.genBatches === 0) return null;
  out.trained = keptGroups.flat(); // data spent mid-step: what was collected
  return out;
}
