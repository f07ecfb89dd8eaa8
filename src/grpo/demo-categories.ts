/**
 * Validation accuracy per row `category` (workplace_assistant's six), before and after a demo's
 * GRPO run, read back from the run's validation_rollouts.jsonl (run.dump_rollouts ≥ the number of
 * validation rows). Each validation appends one block of rollouts in (task, rollout) order, so the
 * first block is step 0 and the last the end.
 *
 * A dumped line names its rollout by (task, rollout), not by row position: identical rows share a
 * task (NeMo Gym dedups them, src/rollout/rows.ts), so after a duplicate the task index runs behind
 * the row index. The rows are expanded here exactly as validation expanded them to find each
 * rollout's row.
 */
import { existsSync, readFileSync } from "node:fs";
import { expandRows, rolloutKey, type Row } from "../rollout/rows.ts";

type Line = { task?: number; rollout?: number; reward?: number; failed?: string };

export interface CategoryAccuracy {
  before: Record<string, number>;
  after: Record<string, number>;
}

export function categoryAccuracy(dumpPath: string, validationRows: readonly Record<string, unknown>[]): CategoryAccuracy | null {
  if (!existsSync(dumpPath) || !validationRows.some((r) => typeof r.category === "string")) return null;
  const categoryOf = new Map(expandRows(validationRows as Row[]).map((q) => [rolloutKey(q.taskIndex, q.rolloutIndex), String(q.row.category ?? "unknown")]));
  const lines = readFileSync(dumpPath, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as Line);
  const blocks: Line[][] = [];
  for (const l of lines) {
    if ((l.task === 0 && (l.rollout ?? 0) === 0) || blocks.length === 0) blocks.push([]);
    blocks.at(-1)!.push(l);
  }
  const complete = blocks.filter((b) => b.length === validationRows.length);
  if (complete.length === 0) return null;
  const of = (block: Line[]) => {
    const by = new Map<string, number[]>();
    for (const l of block) {
      const cat = categoryOf.get(rolloutKey(l.task ?? -1, l.rollout ?? 0)) ?? "unknown";
      by.set(cat, [...(by.get(cat) ?? []), l.failed ? 0 : Number(l.reward ?? 0)]);
    }
    return Object.fromEntries([...by].sort(([a], [b]) => a.localeCompare(b)).map(([c, rs]) => [c, Number((rs.reduce((a, b) => a + b, 0) / rs.length).toFixed(3))]));
  };
  return { before: of(complete[0]!), after: of(complete.at(-1)!) };
}
