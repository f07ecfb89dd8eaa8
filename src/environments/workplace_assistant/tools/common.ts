/**
 * What every tool module shares: the tool shape (upstream's class and method name, for Python's
 * "unexpected keyword argument" text; its parameter names; the implementation) and Python-style
 * helpers for pagination and string formatting.
 */
import { PyError, pyType } from "../py.ts";
import type { Sandbox } from "../sandbox.ts";
import type { Cell } from "../table.ts";

export type Kwargs = Record<string, unknown>;

export interface ToolImpl {
  /** Upstream's Python class, e.g. EmailTool. */
  cls: string;
  /** The method name, e.g. send_email. */
  method: string;
  params: readonly string[];
  run(sb: Sandbox, kw: Kwargs): unknown;
}

/** The simulated "now" of every sandbox (upstream's HARDCODED_CURRENT_TIME). */
export const CURRENT_TIME = "2023-11-30 23:59:00";

/** Python's `str(x)` / f-string of a cell or argument. */
export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return "nan";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === "string") return v;
  return JSON.stringify(v).replace(/"/g, "'");
}

/** Python's `a // b` on ints (ZeroDivisionError on 0). */
function floorDiv(a: number, b: number): number {
  if (b === 0) throw new PyError("integer division or modulo by zero");
  return Math.floor(a / b);
}

function asInt(v: unknown): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new PyError(`unsupported operand type(s) for +: 'int' and '${pyType(v)}'`);
}

/** Python's `list[start:end]` with negative indices. */
function pySlice<T>(xs: T[], start: number, end: number): T[] {
  const norm = (i: number) => (i < 0 ? Math.max(0, xs.length + i) : Math.min(i, xs.length));
  return xs.slice(norm(start), norm(end));
}

/** The search tools' pagination, step for step: clamp the page, then slice. */
export function paginate<T>(items: T[], pageArg: unknown, pageSizeArg: unknown): { page: number; pageSize: number; totalPages: number; slice: T[] } {
  const pageSize = asInt(pageSizeArg);
  const total = items.length;
  const totalPages = floorDiv(total + pageSize - 1, pageSize);
  const page = totalPages > 0 ? Math.max(1, Math.min(asInt(pageArg), totalPages)) : 1;
  const start = (page - 1) * pageSize;
  const end = Math.min(start + pageSize, total);
  return { page, pageSize, totalPages, slice: pySlice(items, start, end) };
}

/** The value an argument becomes in a table cell. */
export function cell(v: unknown): Cell {
  if (v === undefined || v === null) return null;
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  return JSON.stringify(v);
}

/** `s.zfill(8)` of `int(max_id) + 1`: the next id of a table. */
export function nextId(max: string, pad: boolean): string {
  const n = String(Number.parseInt(max, 10) + 1);
  return pad ? n.padStart(8, "0") : n;
}
