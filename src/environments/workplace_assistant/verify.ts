/**
 * Upstream's `is_correct`: replay the predicted function calls on one fresh sandbox and the
 * ground-truth calls on another (a call that fails is skipped, as upstream prints and continues),
 * then compare the five tables as `DataFrame.equals` does after lower-casing every column but
 * status, list_name and board: same columns, same index labels in order, same cells (a missing
 * cell equals a missing cell). `.str.lower()` makes a non-string cell missing, so a number the
 * model wrote where the ground truth has text does not match.
 */
import { COMPARED_TABLES, newSandbox, type Sandbox } from "./sandbox.ts";
import type { Cell, Table } from "./table.ts";
import { invokeTool } from "./tools/index.ts";

export interface ToolCallText {
  name: string;
  /** JSON text, as in function_call items and ground_truth rows. */
  arguments: string;
}

const CASE_SENSITIVE = new Set(["status", "list_name", "board"]);

export function replay(calls: readonly ToolCallText[]): Sandbox {
  const sb = newSandbox();
  for (const c of calls) {
    let args: unknown;
    try {
      args = JSON.parse(c.arguments);
    } catch {
      continue;
    }
    try {
      invokeTool(sb, c.name, args);
    } catch {
      // upstream prints the exception and goes on with the next call
    }
  }
  return sb;
}

function normalise(col: string, v: Cell): Cell {
  if (CASE_SENSITIVE.has(col)) return v;
  return typeof v === "string" ? v.toLowerCase() : null;
}

export function tablesEqual(a: Table, b: Table): boolean {
  if (a.columns.length !== b.columns.length || a.columns.some((c, k) => c !== b.columns[k])) return false;
  if (a.rows.length !== b.rows.length) return false;
  for (let i = 0; i < a.rows.length; i++) {
    const ra = a.rows[i]!;
    const rb = b.rows[i]!;
    if (ra.label !== rb.label) return false;
    for (const c of a.columns) if (normalise(c, ra.cells[c] ?? null) !== normalise(c, rb.cells[c] ?? null)) return false;
  }
  return true;
}

export function isCorrect(predicted: readonly ToolCallText[], groundTruth: readonly ToolCallText[]): boolean {
  const p = replay(predicted);
  const g = replay(groundTruth);
  return COMPARED_TABLES.every((t) => tablesEqual(p[t], g[t]));
}
