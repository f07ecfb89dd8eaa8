/**
 * DAPO dynamic sampling: a prompt group whose rewards are all equal has zero advantage everywhere
 * and teaches nothing, so drop it and generate more prompts until the step's batch is full of
 * groups that vary. NeMo RL: `dynamic_sampling` in nemo_rl/algorithms/grpo.py (DAPO,
 * https://arxiv.org/abs/2503.14476). The cache of kept groups across generation batches is the
 * caller's; these functions say what to keep and whether to keep generating.
 */
import { groupIndices, type GroupIds } from "./advantages.ts";
import type { Floats } from "./batch.ts";

export interface GroupSelection {
  /** sample indices of the kept groups, in input order. */
  keep: number[];
  keptGroups: (number | string)[];
  droppedGroups: (number | string)[];
}

/**
 * Keep the groups whose rewards are not all equal. Whole groups, as DAPO states it (0 < #correct < G).
 * NeMo RL filters per sample on its leave-one-out std, which also drops a lone outlier (the only
 * success in [1,0,0,0] has std 0 over the others) and so keeps a partial group; we don't.
 */
export function selectVaryingGroups(rewards: Floats, groupIds: GroupIds): GroupSelection {
  if (groupIds.length !== rewards.length) throw new RangeError(`groupIds has ${groupIds.length} entries, rewards ${rewards.length}`);
  const keep: number[] = [];
  const keptGroups: (number | string)[] = [];
  const droppedGroups: (number | string)[] = [];
  for (const [g, idx] of groupIndices(groupIds)) {
    const varies = idx.some((j) => rewards[j] !== rewards[idx[0]]);
    if (varies) {
      keptGroups.push(g);
      keep.push(...idx);
    } else droppedGroups.push(g);
  }
  keep.sort((a, b) => a - b);
  return { keep, keptGroups, droppedGroups };
}

export interface RefillQuery {
  /** varying groups collected so far this step, across generation batches. */
  groupsCollected: number;
  numPromptsPerStep: number;
  /** generation batches done so far this step, this one included. */
  genBatches: number;
  maxGenBatches: number;
  batchMultiplier: number;
}

export type RefillStatus =
  /** enough: train on the first numPromptsPerStep groups, discard the rest. */
  | { kind: "complete"; groupsToDiscard: number }
  /** generate another batch of promptsToGenerate prompts; groupsNeeded still missing. */
  | { kind: "need_more"; groupsNeeded: number; promptsToGenerate: number }
  /** out of generation batches: the data is too easy or too hard for this many generations. */
  | { kind: "exhausted"; groupsNeeded: number; message: string };

/**
 * Whether the step's batch is full. As in NeMo RL, another batch is allowed while
 * genBatches ≤ maxGenBatches, so at most maxGenBatches + 1 batches are generated.
 */
export function refillStatus(q: RefillQuery): RefillStatus {
  if (!(q.maxGenBatches > 0)) throw new RangeError("dynamic sampling needs maxGenBatches > 0");
  const missing = q.numPromptsPerStep - q.groupsCollected;
  if (missing <= 0) return { kind: "complete", groupsToDiscard: q.groupsCollected - q.numPromptsPerStep };
  if (q.genBatches <= q.maxGenBatches) {
    return { kind: "need_more", groupsNeeded: missing, promptsToGenerate: Math.floor(q.numPromptsPerStep * q.batchMultiplier) };
  }
  return {
    kind: "exhausted",
    groupsNeeded: missing,
    message:
      `dynamic sampling reached its ${q.maxGenBatches} generation batches with ${q.groupsCollected}/${q.numPromptsPerStep} ` +
      "varying prompt groups; the data may be too easy or too hard, or raise numGenerationsPerPrompt / batchMultiplier",
  };
}
