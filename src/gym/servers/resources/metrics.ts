/**
 * The default `/aggregate_metrics`: numeric (and boolean) top-level fields of the verify
 * responses — reward and every env-specific extra — averaged over all rollouts (agent_metrics),
 * per task (group_level_metrics, by `_ng_task_index`), with `reward` picked out as the key metric.
 */
import type { AggregateMetricsResponse } from "../../protocol/gym.ts";

type Row = Record<string, unknown>;

function numericFields(r: Row): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(r)) {
    if (k.startsWith("_ng_")) continue;
    if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
    else if (typeof v === "boolean") out[k] = v ? 1 : 0;
  }
  return out;
}

function summarize(rows: Row[]): Record<string, number> {
  const sums = new Map<string, { sum: number; sq: number; min: number; max: number; n: number }>();
  for (const r of rows) {
    for (const [k, v] of Object.entries(numericFields(r))) {
      const s = sums.get(k) ?? { sum: 0, sq: 0, min: Infinity, max: -Infinity, n: 0 };
      s.sum += v;
      s.sq += v * v;
      s.min = Math.min(s.min, v);
      s.max = Math.max(s.max, v);
      s.n += 1;
      sums.set(k, s);
    }
  }
  const out: Record<string, number> = {};
  for (const [k, s] of sums) {
    const mean = s.sum / s.n;
    out[`mean/${k}`] = mean;
    out[`max/${k}`] = s.max;
    out[`min/${k}`] = s.min;
    out[`std/${k}`] = Math.sqrt(Math.max(0, s.sq / s.n - mean * mean));
  }
  return out;
}

export function aggregateVerifyResponses(rows: Row[]): AggregateMetricsResponse {
  const byTask = new Map<number, Row[]>();
  for (const r of rows) {
    const t = typeof r._ng_task_index === "number" ? r._ng_task_index : -1;
    byTask.set(t, [...(byTask.get(t) ?? []), r]);
  }
  const group_level_metrics = [...byTask.entries()]
    .filter(([t]) => t >= 0)
    .sort(([a], [b]) => a - b)
    .map(([t, rs]) => ({ _ng_task_index: t, num_rollouts: rs.length, ...summarize(rs) }));
  const agent_metrics = { num_rollouts: rows.length, ...summarize(rows) };
  const key_metrics: Record<string, unknown> = {};
  if ("mean/reward" in agent_metrics) key_metrics["mean/reward"] = agent_metrics["mean/reward"];
  return { group_level_metrics, agent_metrics, key_metrics };
}
