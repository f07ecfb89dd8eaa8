/**
 * A run directory as the viewer sees it: the metrics lines, the steps with trained rollouts, and a
 * plain-words list of what is missing or damaged. Reading never throws on a run's contents: a
 * missing file, a line cut by a write in progress or a crash, or a foreign line is a problem to
 * show beside whatever could be read. Not here: HTTP (server.ts), the file formats (grpo/).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { listTrainedRolloutSteps, readTrainedRollouts, ROLLOUTS_DIR, type TrainedRolloutRecord } from "../grpo/trained-rollouts.ts";

export type MetricsLine = Record<string, number | string | null>;

export interface MetricsRead {
  lines: MetricsLine[];
  problems: string[];
}

export const METRICS_FILE = "metrics.jsonl";

/** metrics.jsonl → lines with a numeric `step`; problems name the file and the line. */
export function readMetrics(runDir: string): MetricsRead {
  const problems: string[] = [];
  if (!existsSync(runDir)) return { lines: [], problems: [`run directory ${runDir} does not exist`] };
  const path = join(runDir, METRICS_FILE);
  if (!existsSync(path)) return { lines: [], problems: [`${METRICS_FILE} is missing: no curves (has the run written its first step?)`] };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { lines: [], problems: [`${METRICS_FILE} cannot be read: ${(e as Error).message}`] };
  }
  const raw = text.split("\n");
  const lines: MetricsLine[] = [];
  raw.forEach((l, i) => {
    if (l.trim() === "") return;
    const last = i === raw.length - 1; // no newline after it: a write in progress or cut by a crash
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch {
      problems.push(last ? `${METRICS_FILE}: the last line is cut (${l.length} bytes without a newline); it is left out` : `${METRICS_FILE}: line ${i + 1} is not JSON; it is left out`);
      return;
    }
    if (v === null || typeof v !== "object" || Array.isArray(v) || typeof (v as MetricsLine).step !== "number") {
      problems.push(`${METRICS_FILE}: line ${i + 1} has no numeric "step"; it is left out`);
      return;
    }
    lines.push(v as MetricsLine);
  });
  if (lines.length === 0 && problems.length === 0) problems.push(`${METRICS_FILE} is empty: no step has finished yet`);
  return { lines, problems };
}

export interface StepsRead {
  steps: number[];
  problems: string[];
}

export function readSteps(runDir: string): StepsRead {
  if (!existsSync(join(runDir, ROLLOUTS_DIR)))
    return { steps: [], problems: [`${ROLLOUTS_DIR}/ is missing: no trajectories to browse (a run from before the viewer, or no step finished yet)`] };
  const steps = listTrainedRolloutSteps(runDir);
  return { steps, problems: steps.length === 0 ? [`${ROLLOUTS_DIR}/ holds no step file yet`] : [] };
}

export interface RolloutsRead {
  records: TrainedRolloutRecord[];
  problems: string[];
}

/** A step's trained rollouts, or null when the step has no file. */
export function readRollouts(runDir: string, step: number): RolloutsRead | null {
  const r = readTrainedRollouts(runDir, step);
  if (!r) return null;
  return { records: r.records, problems: r.badLines > 0 ? [`step ${step}: ${r.badLines} line(s) of its rollouts file are not JSON; they are left out`] : [] };
}

/** A cheap fingerprint of what the page shows (size and mtime of the files), to notice changes. */
export function runFingerprint(runDir: string): string {
  const part = (p: string) => {
    try {
      const s = statSync(p);
      return `${s.size}:${s.mtimeMs}`;
    } catch {
      return "-";
    }
  };
  return `${part(join(runDir, METRICS_FILE))}|${part(join(runDir, ROLLOUTS_DIR))}`;
}
