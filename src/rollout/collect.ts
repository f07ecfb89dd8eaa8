/**
 * Rollout collection, the public entry: dataset rows → prompt groups of token trajectories.
 *
 *   const run = collectRollouts({ gym: headUrl, rows, numRepeats: 8, concurrency: 256, deadlineMs: 600_000 });
 *   for await (const group of run) trainer.add(group);   // groups in completion order
 *   log(run.metrics());                                   // batch + per-agent metrics
 *
 * or `for await (const o of run.outcomes())` for single rollouts in completion order (the CLI).
 * A collection is iterated once, one way. Failed rollouts are records in their group (and in
 * `metrics().failures_by_class`), never exceptions: the batch always finishes.
 */
import { GymClient } from "../gym/client.ts";
import { GroupAssembler, type RolloutGroup } from "./groups.ts";
import { MetricsAccumulator, type CollectionMetrics } from "./metrics.ts";
import type { RolloutFailure, RolloutOutcome } from "./outcome.ts";
import { expandRows, type ExpandOptions, type RolloutRequest, type Row } from "./rows.ts";
import { streamRollouts, type StreamOptions } from "./stream.ts";

/** A running Gym: a client, anything holding one (startGym's handle), or a head server URL. */
export type GymTarget = GymClient | { client: GymClient } | string;

export interface CollectOptions extends ExpandOptions, StreamOptions {
  gym: GymTarget;
  /** dataset rows, expanded with the ExpandOptions (numRepeats, defaultAgent, samplingParams ...). */
  rows?: readonly Row[];
  /** or requests already expanded (a resume sends only the missing ones). */
  requests?: readonly RolloutRequest[];
  /** every outcome, as it arrives. */
  onOutcome?: (o: RolloutOutcome) => void;
  /** every group, as it is released (also yielded by the iterator). */
  onGroup?: (g: RolloutGroup) => void;
}

export class RolloutCollection implements AsyncIterable<RolloutGroup> {
  readonly requests: readonly RolloutRequest[];
  private readonly acc = new MetricsAccumulator();
  private started = false;

  constructor(private readonly opts: CollectOptions) {
    if (!opts.rows === !opts.requests) throw new Error("collectRollouts needs exactly one of rows and requests");
    this.requests = opts.requests ?? expandRows(opts.rows!, opts);
  }

  /** Batch and per-agent metrics of the outcomes so far (final once iteration has ended). */
  metrics(): CollectionMetrics {
    return this.acc.summary();
  }

  /** Single rollouts in completion order. */
  async *outcomes(): AsyncGenerator<RolloutOutcome> {
    if (this.started) throw new Error("a RolloutCollection can be iterated only once");
    this.started = true;
    const client = await resolveClient(this.opts.gym);
    for await (const o of streamRollouts(client, this.requests, this.opts)) {
      this.acc.add(o);
      this.opts.onOutcome?.(o);
      yield o;
    }
  }

  /** Prompt groups, each released when all its rollouts are done or failed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<RolloutGroup> {
    const groups = new GroupAssembler(this.requests);
    for await (const o of this.outcomes()) {
      const g = groups.add(o);
      if (!g) continue;
      this.opts.onGroup?.(g);
      yield g;
    }
    groups.finish();
  }
}

export function collectRollouts(opts: CollectOptions): RolloutCollection {
  return new RolloutCollection(opts);
}

/** The whole batch at once: groups in completion order, every failure, the metrics. */
export async function collectAll(opts: CollectOptions): Promise<{ groups: RolloutGroup[]; failures: RolloutFailure[]; metrics: CollectionMetrics }> {
  const run = collectRollouts(opts);
  const groups: RolloutGroup[] = [];
  for await (const g of run) groups.push(g);
  return { groups, failures: groups.flatMap((g) => g.failed), metrics: run.metrics() };
}

async function resolveClient(gym: GymTarget): Promise<GymClient> {
  if (typeof gym === "string") return GymClient.fromHead(gym);
  if (gym instanceof GymClient) return gym;
  return gym.client;
}
