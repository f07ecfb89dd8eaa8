/**
 * Which policy versions generated a rollout's tokens, and how old that makes its group. The versions
 * come from the engine's own record (engine/version-ledger.ts), found by the rollout's sampling seed
 * and each generation span's tokens; a span with no record is given the version the engine was at
 * when its batch started, the oldest its tokens can be (so the age bound never errs young).
 */
import type { VersionLedger } from "../../engine/version-ledger.ts";
import type { RolloutOutcome } from "../../rollout/outcome.ts";

/** A group's tokens by policy version (the run's numbering). */
export interface GroupVersions {
  /** the oldest version any of its generated tokens came from (null: no generated token) */
  minVersion: number | null;
  /** generated tokens per version */
  tokensByVersion: Map<number, number>;
  /** samples whose generated tokens span more than one version (an in-flight update) */
  mixedSamples: number;
  /** generation spans found in the engine's record (the rest took the batch's start version) */
  spansRecorded: number;
  spansTotal: number;
}

export interface VersionLookup {
  ledger: VersionLedger | null;
  /** the rollout's sampling seed */
  seedOf(taskIndex: number, rolloutIndex: number): number;
  /** the run's version at the batch's start: the floor for spans with no record */
  startVersion: number;
  /** run version = engine version + offset (a resumed run's engine counts from its own start) */
  versionOffset: number;
}

/** Per generated token of each sample of `o`, its version (the run's numbering). */
export function sampleTokenVersions(o: RolloutOutcome, look: VersionLookup, counts?: { recorded: number; total: number }): number[][] {
  if (o.kind !== "ok") return [];
  const seed = look.seedOf(o.taskIndex, o.rolloutIndex);
  return o.conversion.samples.map((s) => {
    const out: number[] = [];
    for (const span of s.spans) {
      if (span.kind !== "generation") continue;
      const ids = s.tokens.subarray(span.start, span.end);
      const rec = look.ledger?.lookup(seed, ids) ?? null;
      if (counts) {
        counts.total++;
        if (rec) counts.recorded++;
      }
      for (let i = 0; i < ids.length; i++) out.push(rec ? rec.versions[i] + look.versionOffset : look.startVersion);
    }
    return out;
  });
}

export function groupVersions(outcomes: readonly RolloutOutcome[], look: VersionLookup): GroupVersions {
  const counts = { recorded: 0, total: 0 };
  const tokensByVersion = new Map<number, number>();
  let minVersion: number | null = null;
  let mixedSamples = 0;
  for (const o of outcomes) {
    for (const vs of sampleTokenVersions(o, look, counts)) {
      if (vs.length === 0) continue;
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of vs) {
        tokensByVersion.set(v, (tokensByVersion.get(v) ?? 0) + 1);
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      if (hi > lo) mixedSamples++;
      minVersion = minVersion === null ? lo : Math.min(minVersion, lo);
    }
  }
  return { minVersion, tokensByVersion, mixedSamples, spansRecorded: counts.recorded, spansTotal: counts.total };
}

/**
 * Steps completed when each version went live: `publish(step, version)` after every step's refit;
 * `stepOf(v)` is the step count of the newest publication at or below v (versions between two
 * publications, from a step's several optimizer steps, count as the older: ages err old).
 */
export class VersionSteps {
  private readonly list: { version: number; step: number }[] = [];

  constructor(startStep: number, startVersion: number) {
    this.list.push({ version: startVersion, step: startStep });
  }

  publish(step: number, version: number): void {
    this.list.push({ version, step });
  }

  stepOf(version: number): number {
    let best = this.list[0].step;
    for (const e of this.list) if (e.version <= version) best = Math.max(best, e.step);
    return best;
  }

  /** GRPO steps between the weights of `version` and those step `step` trains (1-based): 0 is on-policy. */
  ageAt(step: number, version: number): number {
    return step - 1 - this.stepOf(version);
  }
}
