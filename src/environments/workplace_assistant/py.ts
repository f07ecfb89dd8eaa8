/**
 * The few Python / pandas behaviours the upstream tools rely on, so the port answers the same
 * text: truthiness (`if not x`), exceptions that the server turns into
 * "Error executing tool '<name>': <message>", `pd.Timestamp` parsing, and `str.contains`
 * (a case-insensitive regex search that is NaN on a missing cell).
 */

/** A Python exception inside a tool: the server reports its message to the model. */
export class PyError extends Error {
  override name = "PyError";
}

/** Python's truthiness of a JSON value (`if not x:`). */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

/** Python's type name of a JSON value, for error messages. */
export function pyType(v: unknown): string {
  if (v === null || v === undefined) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "string") return "str";
  return Array.isArray(v) ? "list" : "dict";
}

/** `v.lower()`: an AttributeError on anything but a string, as in Python. */
export function lower(v: unknown): string {
  if (typeof v !== "string") throw new PyError(`'${pyType(v)}' object has no attribute 'lower'`);
  return v.toLowerCase();
}

/** `needle in haystack` for a string haystack: a TypeError when the haystack is not a string. */
export function strIn(needle: string, haystack: unknown): boolean {
  if (typeof haystack !== "string") throw new PyError(`argument of type '${pyType(haystack)}' is not iterable`);
  return haystack.includes(needle);
}

/** An integer argument used in arithmetic (page, page_size): Python fails on other types. */
export function int(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new PyError(`unsupported operand type(s) for +: '${pyType(v)}' and 'int' (${what})`);
}

/** Python's `int(x)` of a string or number; ValueError text as Python words it. */
export function pyInt(v: unknown): number {
  if (typeof v === "number") return Math.trunc(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" && /^\s*[+-]?\d+(_\d+)*\s*$/.test(v)) return Number.parseInt(v.replace(/_/g, ""), 10);
  if (typeof v === "string") throw new PyValueError(`invalid literal for int() with base 10: '${v}'`);
  throw new PyError(`int() argument must be a string, a bytes-like object or a real number, not '${pyType(v)}'`);
}

/** ValueError: the tools catch this one to answer their own "Invalid ... format" text. */
export class PyValueError extends PyError {
  override name = "PyValueError";
}

const TS = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?$/;

/**
 * `pd.Timestamp(text)` for the ISO forms the data and the model use ("2023-11-30",
 * "2023-11-30 09:00:00", "2023-11-30T09:00"), as milliseconds of a naive UTC clock.
 * Anything else is a ValueError, which the tools turn into their "Invalid ... format" answers.
 */
export function timestamp(v: unknown): number {
  if (typeof v === "number") return v / 1e6; // pd.Timestamp(int) counts nanoseconds
  if (typeof v !== "string") throw new PyError(`Cannot convert input [${String(v)}] of type ${pyType(v)} to Timestamp`);
  const m = TS.exec(v.trim());
  if (!m) throw new PyValueError(`could not convert string to Timestamp`);
  const [y, mo, d, h, mi, s, frac] = [m[1], m[2], m[3], m[4] ?? "0", m[5] ?? "0", m[6] ?? "0", m[7] ?? "0"].map(Number);
  const t = Date.UTC(y!, mo! - 1, d!, h, mi, s, Number(`0.${String(m[7] ?? "0")}`) * 1000);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo! - 1 || back.getUTCDate() !== d || h! > 23 || mi! > 59 || s! > 59 || Number.isNaN(frac)) {
    throw new PyValueError(`could not convert string to Timestamp`);
  }
  return t;
}

/** `timestamp(v)` truncated to its day (`.date()`). */
export function dateOf(v: unknown): number {
  const t = timestamp(v);
  return t - (((t % 86_400_000) + 86_400_000) % 86_400_000);
}

/** Python's `str(ts)` of a pandas Timestamp without fraction: "2023-11-30 23:59:00". */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/**
 * `series.str.contains(pattern, case=False)`: pandas treats the pattern as a regular expression.
 * A pattern JavaScript cannot compile is Python's re.error; a non-string pattern is a TypeError.
 */
export function containsMatcher(pattern: unknown): (cell: unknown) => boolean | null {
  if (typeof pattern !== "string") throw new PyError(`first argument must be string or compiled pattern`);
  let re: RegExp;
  try {
    re = new RegExp(pattern, "i");
  } catch (e) {
    throw new PyError(`${(e as Error).message}`);
  }
  return (cell) => (typeof cell === "string" ? re.test(cell) : null);
}

/** Boolean indexing with a mask that has NaN fails in pandas with this message. */
export function checkMask(mask: (boolean | null)[]): boolean[] {
  if (mask.some((m) => m === null)) throw new PyValueError("Cannot mask with non-boolean array containing NA / NaN values");
  return mask as boolean[];
}
