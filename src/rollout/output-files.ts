/**
 * The files of a collection, laid out as NeMo Gym's collector writes them (`run_from_config`),
 * for `--output <stem>.jsonl`:
 *   <stem>.jsonl                      one verify response per succeeded rollout (completion order)
 *   <stem>_failures.jsonl             one record per failed rollout: the row + _ng_failure_* fields
 *   <stem>_materialized_inputs.jsonl  the rows as sent (repeated, stamped)
 *   <stem>_aggregate_metrics.json     each agent's POST /aggregate_metrics over its results
 * and gymrl's own metrics (metrics.ts) in <stem>_rollout_metrics.json.
 * Lines are written whole with one synchronous append each, so an interrupted run leaves at most
 * one partial last line, which resume.ts cuts off.
 */
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import type { RolloutFailure } from "./outcome.ts";
import type { Row } from "./rows.ts";

export interface OutputPaths {
  results: string;
  failures: string;
  materializedInputs: string;
  aggregateMetrics: string;
  rolloutMetrics: string;
}

export function outputPaths(output: string): OutputPaths {
  const stem = output.endsWith(".jsonl") ? output.slice(0, -".jsonl".length) : output;
  return {
    results: `${stem}.jsonl`,
    failures: `${stem}_failures.jsonl`,
    materializedInputs: `${stem}_materialized_inputs.jsonl`,
    aggregateMetrics: `${stem}_aggregate_metrics.json`,
    rolloutMetrics: `${stem}_rollout_metrics.json`,
  };
}

/** An append-only JSONL file. */
export class JsonlWriter {
  private fd: number;
  lines = 0;

  constructor(path: string, mode: "append" | "truncate") {
    this.fd = openSync(path, mode === "append" ? "a" : "w");
  }

  write(obj: unknown): void {
    writeSync(this.fd, `${JSON.stringify(obj)}\n`);
    this.lines++;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** A failure as a line of <stem>_failures.jsonl: the row as sent, plus why (NeMo Gym's `_ng_failure_class`). */
export function failureRecord(f: RolloutFailure): Row {
  return {
    ...f.row,
    _ng_failure_class: f.errorClass,
    _ng_failure_message: f.message,
    ...(f.status !== undefined ? { _ng_failure_status: f.status } : {}),
    _ng_attempts: f.timing.attempts,
  };
}

export function writeJsonl(path: string, rows: readonly unknown[]): void {
  writeFileSync(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
}

export function writeJson(path: string, obj: unknown): void {
  writeFileSync(path, `${JSON.stringify(obj, null, 2)}\n`);
}
