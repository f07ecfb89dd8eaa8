/**
 * Prompt groups: outcomes arrive in completion order and are regrouped by `_ng_task_index`; a group
 * is released once every one of its rollouts is done or failed (NeMo RL's _NemoGymStreamAccumulator,
 * without its need for contiguous rows). Members come back in rollout order; failed members are
 * kept as records, so the trainer sees how many of the group it lost. The expected size of each
 * group is what was sent for it in this collection (a resumed run sends only the missing ones).
 */
import type { RolloutFailure, RolloutOutcome, RolloutSuccess } from "./outcome.ts";
import type { RolloutRequest } from "./rows.ts";
import type { TokenSample } from "./trajectory.ts";

export interface RolloutGroup {
  taskIndex: number;
  /** agents that served this group's rollouts (one, unless rows of one task name several). */
  agents: string[];
  /** every rollout of the group, by rollout index. */
  outcomes: RolloutOutcome[];
  succeeded: RolloutSuccess[];
  failed: RolloutFailure[];
  /** the trainable samples of the succeeded rollouts, in rollout order (a split rollout gives several). */
  samples: TokenSample[];
}

export class GroupError extends Error {
  override readonly name = "GroupError";
}

export class GroupAssembler {
  private readonly expected = new Map<number, number>();
  private readonly pending = new Map<number, RolloutOutcome[]>();
  private readonly seen = new Set<string>();

  constructor(requests: readonly RolloutRequest[]) {
    for (const r of requests) this.expected.set(r.taskIndex, (this.expected.get(r.taskIndex) ?? 0) + 1);
  }

  /** Add one outcome; returns its group when this was the group's last missing member. */
  add(o: RolloutOutcome): RolloutGroup | undefined {
    const want = this.expected.get(o.taskIndex);
    if (want === undefined) throw new GroupError(`outcome for task ${o.taskIndex}, which was never sent`);
    const key = `${o.taskIndex}:${o.rolloutIndex}`;
    if (this.seen.has(key)) throw new GroupError(`task ${o.taskIndex} rollout ${o.rolloutIndex} came back twice`);
    this.seen.add(key);
    const members = this.pending.get(o.taskIndex) ?? [];
    members.push(o);
    if (members.length < want) {
      this.pending.set(o.taskIndex, members);
      return undefined;
    }
    this.pending.delete(o.taskIndex);
    return toGroup(o.taskIndex, members);
  }

  /** Groups still waiting for members. */
  get open(): number {
    return this.pending.size;
  }

  /** At the end of a stream every group must have been released (NeMo RL's finish()). */
  finish(): void {
    if (this.pending.size === 0) return;
    const [task, members] = this.pending.entries().next().value as [number, RolloutOutcome[]];
    throw new GroupError(`${this.pending.size} group(s) incomplete at the end of collection, e.g. task ${task} has ${members.length} of ${this.expected.get(task)}`);
  }
}

function toGroup(taskIndex: number, members: RolloutOutcome[]): RolloutGroup {
  const outcomes = [...members].sort((a, b) => a.rolloutIndex - b.rolloutIndex);
  const succeeded = outcomes.filter((o): o is RolloutSuccess => o.kind === "ok");
  return {
    taskIndex,
    agents: [...new Set(outcomes.map((o) => o.agent))],
    outcomes,
    succeeded,
    failed: outcomes.filter((o): o is RolloutFailure => o.kind === "failed"),
    samples: succeeded.flatMap((o) => o.conversion.samples),
  };
}
