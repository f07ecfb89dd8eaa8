/**
 * Reading config files: YAML parsing with file-and-line errors, path resolution against a list of
 * roots, and the recursive `config_paths` rule (a file's own config_paths are merged before it).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseDocument } from "yaml";
import { GymConfigError } from "../errors.ts";
import { mergeInto } from "./merge.ts";
import type { Provenance } from "./provenance.ts";
import { isPlainObject, type ConfigDict } from "./types.ts";

/** Parse one YAML file into a mapping (an empty file is an empty mapping). */
export function readYamlFile(file: string): ConfigDict {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new GymConfigError("", `cannot be read: ${(e as Error).message}`, file);
  }
  return parseYamlMapping(text, file);
}

export function parseYamlMapping(text: string, source: string): ConfigDict {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const where = e.linePos ? `:${e.linePos[0].line}:${e.linePos[0].col}` : "";
    throw new GymConfigError("", `is not valid YAML: ${e.message.split("\n")[0]}`, `${source}${where}`);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw new GymConfigError("", "expected a YAML mapping at the top level", source);
  return value;
}

/**
 * Find `p` as given (absolute), else under each root in order. Roots are the including file's
 * folder, the working directory, then extra roots (gymrl's repository, a NeMo Gym checkout).
 */
export function resolveConfigPath(p: string, roots: readonly string[], includedFrom: string): string {
  if (isAbsolute(p)) {
    if (existsSync(p)) return p;
    throw new GymConfigError("config_paths", `names ${p}, which does not exist`, includedFrom);
  }
  const tried: string[] = [];
  for (const root of roots) {
    const candidate = resolve(root, p);
    if (existsSync(candidate)) return candidate;
    tried.push(candidate);
  }
  throw new GymConfigError("config_paths", `names '${p}', which was not found (tried ${tried.join(", ")})`, includedFrom);
}

function asPathList(v: unknown, source: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === "string") return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  throw new GymConfigError("config_paths", "expected a list of file paths", source);
}

/**
 * Merge the files named by `paths` into `target`, depth first: for each file, its own
 * `config_paths` first, then the file itself. A file reached twice on one chain is a cycle.
 */
export function mergeConfigPaths(
  target: ConfigDict,
  paths: unknown,
  opts: { roots: readonly string[]; includedFrom: string; prov: Provenance; chain?: readonly string[] },
): void {
  const chain = opts.chain ?? [];
  for (const p of asPathList(paths, opts.includedFrom)) {
    const baseRoots = chain.length > 0 ? [dirname(chain[chain.length - 1]), ...opts.roots] : opts.roots;
    const file = resolveConfigPath(p, baseRoots, opts.includedFrom);
    if (chain.includes(file)) throw new GymConfigError("config_paths", `includes itself: ${[...chain, file].join(" -> ")}`, file);
    const dict = readYamlFile(file);
    const { config_paths: nested, ...rest } = dict;
    mergeConfigPaths(target, nested, { ...opts, includedFrom: file, chain: [...chain, file] });
    mergeInto(target, rest, file, opts.prov);
  }
}
