/**
 * Unknown keys in gymrl's own config schemas (the GRPO recipe, the SFT file): a misspelt or
 * unsupported key must be an error, not a setting zod drops in silence. Schemas are declared with
 * `z.strictObject`; this file turns zod's `unrecognized_keys` issues into messages that name the
 * file (where known), the full key path and the nearest key the schema does know.
 *
 * Not for NeMo Gym's server configs: those carry arbitrary keys per server and stay permissive
 * (validate.ts), as in NeMo Gym.
 */
import type { z } from "zod";

// ------------------------------------------------------------------------------------------------
// nearest key

/** Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const n = a.length;
  const m = b.length;
  // d[i][j] = distance between a[:i] and b[:j]
  const d: number[][] = Array.from({ length: n + 1 }, (_, i) => Array.from({ length: m + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

/**
 * The known key closest to `key`, or undefined when none is close enough to be a likely typo
 * (more than a third of the longer name changed, and at least 3 edits).
 */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  if (best === undefined) return undefined;
  return bestD <= Math.max(2, Math.floor(Math.max(key.length, best.length) / 3)) ? best : undefined;
}

// ------------------------------------------------------------------------------------------------
// the schema's keys at a path

/** The zod internals this file reads (zod 4's `_zod.def`). */
interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  innerType?: { _zod: { def: Def } };
  element?: { _zod: { def: Def } };
  valueType?: { _zod: { def: Def } };
  options?: { _zod: { def: Def } }[];
  in?: { _zod: { def: Def } };
}

const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

/** Wrappers that hold one inner schema (defaults, optional, nullable, ...). */
function unwrap(d: Def): Def {
  for (;;) {
    if (d.innerType) d = defOf(d.innerType);
    else if (d.type === "pipe" && d.in) d = defOf(d.in);
    else return d;
  }
}

/**
 * The keys an object schema declares at `path` (array indices step into the element, unions into
 * the first object branch that has the next key), or undefined where the path leaves the schema.
 */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let defs: Def[] = [unwrap(defOf(schema))];
  for (const seg of path) {
    const next: Def[] = [];
    for (const d of defs.flatMap(branches)) {
      if (d.type === "object" && d.shape && typeof seg === "string" && seg in d.shape) next.push(unwrap(defOf(d.shape[seg])));
      else if (d.type === "array" && d.element && typeof seg === "number") next.push(unwrap(defOf(d.element)));
      else if (d.type === "record" && d.valueType) next.push(unwrap(defOf(d.valueType)));
    }
    if (next.length === 0) return undefined;
    defs = next;
  }
  const obj = defs.flatMap(branches).find((d) => d.type === "object" && d.shape);
  return obj ? Object.keys(obj.shape!) : undefined;
}

function branches(d: Def): Def[] {
  return d.type === "union" && d.options ? d.options.map((o) => unwrap(defOf(o))).flatMap(branches) : [d];
}

// ------------------------------------------------------------------------------------------------
// messages

export interface IssueContext {
  /** where the config came from, e.g. the YAML file's path */
  source?: string;
  /**
   * `dotted.key=value` overrides applied after the file: an unknown key one of them set is
   * attributed to it rather than to the file.
   */
  overrides?: readonly string[];
}

/** One line per problem: `FILE: unknown key 'a.b' (did you mean 'a.c'?)`, or `FILE: a.b: message`. */
export function formatConfigIssues(schema: z.ZodType, issues: z.ZodError["issues"], ctx: IssueContext = {}): string[] {
  const where = (dotted: string) => {
    const o = ctx.overrides?.find((x) => x.slice(0, Math.max(0, x.indexOf("="))).replace(/^\+/, "") === dotted);
    if (o !== undefined) return `override '${o}'`;
    return ctx.source ?? "config";
  };
  const lines: string[] = [];
  for (const issue of issues) {
    const parent = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, issue.path) ?? [];
      for (const key of issue.keys) {
        const full = parent ? `${parent}.${key}` : key;
        const near = nearestKey(key, known);
        const hint = near !== undefined ? `did you mean '${parent ? `${parent}.${near}` : near}'?` : `known keys here: ${known.join(", ")}`;
        lines.push(`${where(full)}: unknown key '${full}' (${hint})`);
      }
    } else {
      lines.push(`${where(parent)}: ${parent || "(root)"}: ${issue.message}`);
    }
  }
  return lines;
}
