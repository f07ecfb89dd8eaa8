/**
 * The values of the compiled chat-template renderer (jinja-compile.ts) and the library's semantics
 * on them: truthiness, member access, slicing, output and `tojson`, each answering exactly as
 * @huggingface/jinja does or throwing Bail (the caller then renders with the library).
 */

/** A value of the compiled renderer (see the file comment of jinja-compile.ts). */
export type Value = unknown;

/** Thrown inside a compiled render when the library might answer differently; the caller falls back. */
export class Bail {
  constructor(readonly reason: string) {}
}

export class Namespace {
  constructor(readonly map: Map<string, Value>) {}
}

export class HostFunction {
  constructor(readonly fn: (...args: unknown[]) => unknown) {}
}

/** ObjectValue's built-in members, reachable as `obj.items` when the object has no such key. */
const OBJECT_BUILTINS = new Set(["get", "items", "keys", "values", "dictsort"]);

/**
 * Whether the library's context conversion succeeds on v: it throws on a bigint or a symbol
 * anywhere in the data (and overflows the stack on a cycle, caught here as an error too).
 */
export function convertible(v: unknown): boolean {
  try {
    return convertibleData(v);
  } catch {
    return false;
  }
}

function convertibleData(x: unknown): boolean {
  switch (typeof x) {
    case "bigint":
    case "symbol":
      return false;
    case "object":
      if (x === null) return true;
      if (Array.isArray(x)) {
        for (const item of x) if (!convertibleData(item)) return false;
        return true;
      }
      for (const k in x) if (Object.hasOwn(x, k) && !convertibleData((x as Record<string, unknown>)[k])) return false;
      return true;
    default:
      return true;
  }
}

/** How the library appends a statement's value to the output. */
export function output(v: Value): string {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
    case "boolean":
      return String(v);
    case "undefined":
      return "";
    default:
      if (v === null) return "";
      throw new Bail("output of a non-scalar"); // the library writes JSON; not modelled
  }
}

/** The library's `obj.key` / `obj[key]`. */
export function member(o: Value, key: Value): Value {
  if (isPlainObject(o)) {
    if (typeof key !== "string") throw new Bail("non-string key");
    if (isOwnEntry(o, key)) return checked(o[key]);
    if (OBJECT_BUILTINS.has(key)) throw new Bail(`object builtin ${key}`);
    return undefined;
  }
  if (o instanceof Namespace) {
    if (typeof key !== "string") throw new Bail("non-string key");
    return o.map.get(key);
  }
  if (Array.isArray(o) || typeof o === "string") {
    if (!Number.isInteger(key)) throw new Bail("sequence member"); // builtins (length, ...) or an error
    return checked(o.at(key as number));
  }
  if (typeof key !== "string") throw new Bail("non-string key");
  if (o === null || o === undefined || typeof o === "number" || typeof o === "boolean") return undefined;
  throw new Bail("member of a function");
}

/** A value read from context data, refused when the library would have converted it differently. */
function checked(v: Value): Value {
  const t = typeof v;
  if (t === "function" || t === "bigint" || t === "symbol") throw new Bail(`a ${t} in the data`);
  return v;
}

/** The library's `__bool__`: Python truthiness for sequences and mappings. */
export function truthy(v: Value): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) {
    for (const k in v) if (Object.hasOwn(v, k)) return true;
    return false;
  }
  return !!v;
}

export function isPlainObject(v: Value): v is Record<string, Value> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Namespace) && !(v instanceof HostFunction);
}

/** Whether key is among Object.entries(o), which is what the library converts an object to. */
export function isOwnEntry(o: object, key: string): boolean {
  return Object.prototype.propertyIsEnumerable.call(o, key);
}

/** string, number, boolean, null or undefined. */
export function isScalar(v: Value): boolean {
  const t = typeof v;
  return t === "string" || t === "number" || t === "boolean" || v === null || v === undefined;
}

/** An integer result stays an IntegerValue in the library even past 2^1024; here that is not modelled. */
export function integer(x: number): number {
  if (!Number.isInteger(x)) throw new Bail("integer overflow");
  return x;
}

export function isSliceBound(v: Value): v is number | undefined {
  return v === undefined || Number.isInteger(v);
}

/** The library's Python-style slice. */
export function slice<T>(array: readonly T[], start: number | undefined, stop: number | undefined, step = 1): T[] {
  const direction = Math.sign(step);
  if (direction >= 0) {
    start = (start ??= 0) < 0 ? Math.max(array.length + start, 0) : Math.min(start, array.length);
    stop = (stop ??= array.length) < 0 ? Math.max(array.length + stop, 0) : Math.min(stop, array.length);
  } else {
    start = (start ??= array.length - 1) < 0 ? Math.max(array.length + start, -1) : Math.min(start, array.length - 1);
    stop = (stop ??= -1) < -1 ? Math.max(array.length + stop, -1) : Math.min(stop, array.length - 1);
  }
  const result: T[] = [];
  for (let i = start; direction * i < direction * stop; i += step) result.push(array[i]);
  return result;
}

/** The library's `| tojson` without arguments: ", " and ": " separators, undefined as null. */
export function toJson(v: Value): string {
  switch (typeof v) {
    case "string":
    case "number":
    case "boolean":
      return JSON.stringify(v);
    case "undefined":
      return "null";
    case "object": {
      if (v === null) return "null";
      if (Array.isArray(v)) return `[${v.map(toJson).join(", ")}]`;
      const entries = v instanceof Namespace ? [...v.map] : isPlainObject(v) ? Object.entries(v) : null;
      if (entries === null) throw new Bail("tojson of a function");
      return `{${entries.map(([k, x]) => `${JSON.stringify(k)}: ${toJson(x)}`).join(", ")}}`;
    }
    default:
      throw new Bail(`tojson of a ${typeof v}`);
  }
}
