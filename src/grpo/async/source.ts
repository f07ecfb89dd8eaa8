/**
 * Async GRPO's rollout source (NeMo RL's async_grpo): a producer generates batches of
 * num_prompts_per_step prompts into a buffer of prompt groups while the trainer steps on the oldest
 * ones. Batch k (1-based, run-wide) is generated with the sampling seeds of step k and may start
 * once step k - 1 - max_trajectory_age_steps has been trained, so every group it yields is at most
 * that many steps old when step k trains it; a group found older anyway (its step came later,
 * after drops) is dropped and counted, never trained. With age 0 this is the synchronous loop:
 * batch k is generated on the weights after step k - 1 and step k trains exactly it. A step left
 * short by drops lets the producer start its next batch at once (on the current weights: age 0).
 *
 * The data position a checkpoint records is the one after the last group the trainer consumed
 * (trained or dropped): groups still in the buffer or in flight are generated again on resume, so no
 * prompt is trained twice or lost across a resume. Not here: the training step (loop.ts), reward
 * scoring (step-rewards.ts), where the versions come from (versions.ts).
 */
import type { RolloutOutcome } from "../../rollout/outcome.ts";
import type { DataPosition, PoolRow, PromptStream } from "../data.ts";
import type { MetricsLine } from "../metrics-log.ts";
import { emptyStepRollouts, type StepRollouts } from "../step-rollouts.ts";
import { scoreRollouts, type RewardSettings } from "../step-rewards.ts";
import { groupVersions, VersionSteps, type GroupVersions, type VersionLookup } from "./versions.ts";

export interface AsyncSourceOptions {
  stream: PromptStream;
  numPromptsPerStep: number;
  maxAge: number;
  /** rollouts of these prompts, task index = position, generated with batch `batch`'s seeds; `signal` aborts at close */
  generate(prompts: PoolRow[], batch: number, signal: AbortSignal): Promise<RolloutOutcome[]>;
  /** how to read a finished batch's versions (the run's numbering) */
  lookup(batch: number, startVersion: number): VersionLookup;
  /** the version new generations start under now (the run's numbering) */
  currentVersion(): number;
  rewards: RewardSettings;
  /**
   * ms so far that weight updates waited for running generations, and that requests were held for
   * an update (engine/drained-updates.ts, in_flight_weight_updates false); absent: none
   */
  updateWaits?: () => { updateMs: number; heldMs: number };
  /** steps already trained (a resume) and the version they left */
  startStep: number;
  startVersion: number;
}

interface Group {
  batch: number;
  prompt: PoolRow;
  outcomes: RolloutOutcome[];
  versions: GroupVersions;
  /** the stream's position after this group's prompt */
  positionAfter: DataPosition;
}

/** One trained step's view of the buffer, for metrics. */
interface StepAccount {
  ages: number[];
  tokensByAge: Map<number, number>;
  mixedSamples: number;
  dropped: number;
  trainerWaitS: number;
  spansRecorded: number;
  spansTotal: number;
}

export class AsyncRolloutSource {
  private readonly buffer: Group[] = [];
  private readonly steps: VersionSteps;
  private completed: number;
  private exhausted = false;
  private stopped = false;
  /** the trainer is waiting for groups the throttled producer would not start (drops left it short) */
  private starving = false;
  private failure: unknown = null;
  private wake: (() => void) | null = null;
  private producerWake: (() => void) | null = null;
  private producer: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private consumedPosition: DataPosition;
  private engineWaitMs = 0;
  /** when the producer's current wait for weights began (null: not waiting) */
  private waitingSince: number | null = null;
  private engineWaitTotalMs = 0;
  private trainerWaitTotalMs = 0;
  private droppedTotal = 0;
  private last: StepAccount | null = null;
  private waitsSeen = { updateMs: 0, heldMs: 0 };

  constructor(private readonly o: AsyncSourceOptions) {
    this.completed = o.startStep;
    this.steps = new VersionSteps(o.startStep, o.startVersion);
    this.consumedPosition = { ...o.stream.position };
  }

  /** Starts the producer (idempotent). */
  start(): void {
    this.producer ??= this.produce().catch((e: unknown) => {
      this.failure = e;
      this.notify();
    });
  }

  /** Where a resumed run's prompts start: after the last group the trainer consumed. */
  get position(): DataPosition {
    return { ...this.consumedPosition };
  }

  get totals(): { trainerWaitS: number; engineWaitS: number; droppedGroups: number } {
    return { trainerWaitS: this.trainerWaitTotalMs / 1000, engineWaitS: this.engineWaitTotalMs / 1000, droppedGroups: this.droppedTotal };
  }

  /** The groups step `step` (1-based) trains, as the synchronous gather would give them; null once the data is spent. */
  async next(step: number): Promise<StepRollouts | null> {
    this.start();
    const t0 = performance.now();
    const account: StepAccount = { ages: [], tokensByAge: new Map(), mixedSamples: 0, dropped: 0, trainerWaitS: 0, spansRecorded: 0, spansTotal: 0 };
    const taken: Group[] = [];
    for (;;) {
      if (this.failure) throw this.failure;
      while (taken.length < this.o.numPromptsPerStep && this.buffer.length > 0) {
        const g = this.buffer.shift()!;
        this.consumedPosition = g.positionAfter;
        if (g.versions.minVersion !== null && this.steps.ageAt(step, g.versions.minVersion) > this.o.maxAge) {
          account.dropped++;
          continue;
        }
        taken.push(g);
      }
      if (taken.length === this.o.numPromptsPerStep || (this.exhausted && this.buffer.length === 0)) break;
      // short after drops: let the producer start a batch now; on the current weights it is on-policy for this step
      this.starving = true;
      this.producerWake?.();
      await new Promise<void>((r) => (this.wake = r));
    }
    this.starving = false;
    account.trainerWaitS = (performance.now() - t0) / 1000;
    this.trainerWaitTotalMs += performance.now() - t0;
    this.droppedTotal += account.dropped;
    if (taken.length === 0) {
      this.last = account;
      return null;
    }
    for (const g of taken) {
      const v = g.versions;
      account.ages.push(v.minVersion === null ? 0 : this.steps.ageAt(step, v.minVersion));
      for (const [ver, n] of v.tokensByVersion) {
        const age = this.steps.ageAt(step, ver);
        account.tokensByAge.set(age, (account.tokensByAge.get(age) ?? 0) + n);
      }
      account.mixedSamples += v.mixedSamples;
      account.spansRecorded += v.spansRecorded;
      account.spansTotal += v.spansTotal;
    }
    this.last = account;
    return this.asStep(taken);
  }

  /** Step `step` is trained and its weights (run version `version`) are live: later batches may start. */
  stepDone(step: number, version: number): void {
    this.completed = step;
    this.steps.publish(step, version);
    this.producerWake?.();
  }

  /** The last step's async metrics (ages in GRPO steps behind the trained weights). */
  stepMetrics(): MetricsLine {
    const a = this.last;
    if (!a) return {};
    const m: MetricsLine = {
      "async/trajectory_age/mean": a.ages.length ? a.ages.reduce((x, y) => x + y, 0) / a.ages.length : 0,
      "async/trajectory_age/max": a.ages.length ? Math.max(...a.ages) : 0,
      "async/dropped_groups": a.dropped,
      "async/dropped_groups_total": this.droppedTotal,
      "async/mixed_version_samples": a.mixedSamples,
      "async/versions_recorded_frac": a.spansTotal ? a.spansRecorded / a.spansTotal : 1,
      "async/buffer_groups": this.buffer.length,
      "async/trainer_wait_s": a.trainerWaitS,
      "async/engine_wait_s": this.takeEngineWaitMs() / 1000,
    };
    if (this.o.updateWaits) {
      // drained updates: the trainer's refit waited for running generations; new requests waited for the weights
      const w = this.o.updateWaits();
      m["async/refit_drain_wait_s"] = (w.updateMs - this.waitsSeen.updateMs) / 1000;
      m["async/engine_wait_s"] = Number(m["async/engine_wait_s"]) + (w.heldMs - this.waitsSeen.heldMs) / 1000;
      this.waitsSeen = { ...w };
    }
    for (let age = 0; age <= this.o.maxAge; age++) m[`async/trajectory_age/groups_${age}`] = a.ages.filter((x) => x === age).length;
    const tokens = [...a.tokensByAge.values()].reduce((x, y) => x + y, 0);
    for (const [age, n] of [...a.tokensByAge].sort((x, y) => x[0] - y[0])) m[`async/token_share/age_${age}`] = tokens ? n / tokens : 0;
    return m;
  }

  /** The producer's wait for weights since the last call, a wait still going on included. */
  private takeEngineWaitMs(): number {
    const now = performance.now();
    let ms = this.engineWaitMs;
    if (this.waitingSince !== null) {
      ms += now - this.waitingSince;
      this.engineWaitTotalMs += now - this.waitingSince;
      this.waitingSince = now;
    }
    this.engineWaitMs = 0;
    return ms;
  }

  /** Stops the producer: its batch in flight is aborted (never trained; a resume generates it again). */
  async close(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.producerWake?.();
    await this.producer;
  }

  // ----------------------------------------------------------------------------------------------

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async produce(): Promise<void> {
    for (let batch = this.o.startStep + 1; !this.stopped; batch++) {
      // batch k may start once step k - 1 - maxAge is trained: then its oldest token is at most maxAge steps old at step k
      this.waitingSince = performance.now();
      while (!this.stopped && !this.starving && this.completed < batch - 1 - this.o.maxAge) await new Promise<void>((r) => (this.producerWake = r));
      this.producerWake = null;
      const waited = performance.now() - this.waitingSince;
      this.waitingSince = null;
      this.engineWaitMs += waited;
      this.engineWaitTotalMs += waited;
      if (this.stopped) break;
      const prompts: PoolRow[] = [];
      const positions: DataPosition[] = [];
      for (let i = 0; i < this.o.numPromptsPerStep; i++) {
        const p = this.o.stream.take(1);
        if (p.length === 0) break;
        prompts.push(p[0]);
        positions.push({ ...this.o.stream.position });
      }
      if (prompts.length === 0) break;
      const startVersion = this.o.currentVersion();
      const outcomes = await this.o.generate(prompts, batch, this.abort.signal);
      if (this.stopped) break;
      const look = this.o.lookup(batch, startVersion);
      prompts.forEach((prompt, task) => {
        const mine = outcomes.filter((x) => x.taskIndex === task);
        this.buffer.push({ batch, prompt, outcomes: mine, versions: groupVersions(mine, look), positionAfter: positions[task] });
      });
      look.ledger?.forget(outcomes.map((x) => look.seedOf(x.taskIndex, x.rolloutIndex)));
      this.starving = false; // the trainer says so again if this batch still leaves it short
      this.notify();
    }
    this.exhausted = true;
    this.notify();
  }

  /** Groups → the synchronous gather's result: scored per group, group ids = position in the step. */
  private asStep(groups: Group[]): StepRollouts {
    const out = emptyStepRollouts(new Set(groups.map((g) => g.batch)).size);
    groups.forEach((g, i) => {
      // scaling and shaping are per rollout, so scoring a group alone equals scoring its batch
      const s = scoreRollouts(g.outcomes, 0, this.o.rewards);
      for (const r of s.rollouts) r.group = i;
      out.prompts.push(g.prompt);
      out.outcomes.push(...g.outcomes.map((o) => ({ ...o, taskIndex: i })));
      out.scored.push(...s.rollouts);
      out.failed += s.failed;
      out.scoredAsFailure += s.scoredAsFailure;
      out.numOutOfRange += s.numOutOfRange;
    });
    out.trained = out.scored;
    return out;
  }
}
