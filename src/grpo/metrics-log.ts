/**
 * The run's metrics on disk and on the console: one JSON object per line in RUN/metrics.jsonl
 * (flat keys, NeMo RL's names with `/` groups: `train/reward`, `validation/accuracy`,
 * `timing/train/generation`, ...), and a one-line summary per step. On resume the file is cut
 * back to the checkpoint's step, so it always describes one uninterrupted run.
 * Not here: computing the metrics (loop.ts, metrics.ts), the plot (plot.ts).
 */
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { formatRate } from "../rollout/progress.ts";

export type MetricsLine = Record<string, number | string | null>;

/** Appends one line (NaN and ±Infinity become null: JSON has neither). */
export function appendJsonl(path: string, line: Record<string, unknown>): void {
  appendFileSync(path, JSON.stringify(line, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v)) + "\n");
}

export function readJsonl<T = MetricsLine>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as T];
      } catch {
        return []; // a line cut by a crash mid-write
      }
    });
}

/**
 * Keeps the lines whose `step` is ≤ maxStep (a resume from that step's checkpoint). Written beside
 * and renamed over, so a resume killed right here still has the whole file.
 */
export function truncateJsonl(path: string, maxStep: number): void {
  if (!existsSync(path)) return;
  const keep = readJsonl<{ step?: number }>(path).filter((l) => (l.step ?? 0) <= maxStep);
  writeFileSync(`${path}.tmp`, keep.map((l) => JSON.stringify(l) + "\n").join(""));
  renameSync(`${path}.tmp`, path);
}

function fmt(x: unknown, digits = 3): string {
  return typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "-";
}

/** The console summary of one step's metrics line. */
export function summaryLine(m: MetricsLine, maxSteps: number): string {
  const val = m["validation/accuracy"];
  return [
    `step ${m.step}/${maxSteps}`,
    `reward ${fmt(m["train/reward"])}`,
    ...(val !== undefined ? [`val ${fmt(val)}`] : []),
    `loss ${fmt(m["train/loss"], 4)}`,
    `kl ${fmt(m["train/kl_penalty"], 4)}`,
    `tmpe ${fmt(m["train/token_mult_prob_error"], 4)}`,
    `ent ${fmt(m["train/entropy"], 2)}`,
    `turns ${fmt(m["train/turns_per_sample/mean"], 2)}`,
    `breaks ${m["train/contiguity_breaks"] ?? "-"}`,
    `gen ${fmt(m["timing/train/generation"], 1)}s lp ${fmt(m["timing/train/policy_and_reference_logprobs"], 1)}s train ${fmt(m["timing/train/policy_training"], 1)}s refit ${fmt(m["timing/train/refit"], 3)}s`,
    `${formatRate(m["performance/tokens_per_sec"])} tok/s`,
  ].join(" | ");
}
