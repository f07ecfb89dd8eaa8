/**
 * Command-line overrides in Hydra's spelling: `key=value`, `+key=value`, `++key=value` set a
 * dotted path (`+head_server.port=12000`); `~key` deletes it. Values are read as YAML, so
 * `[a,b]`, `{host: x}`, `12`, `true`, `null` and quoted strings all work.
 *
 * NeMo Gym applies overrides with Hydra to an empty config, so there `+` is what works; gymrl
 * accepts all three set forms alike, since there is no primary config to append to.
 */
import { parse } from "yaml";
import { GymConfigError } from "../errors.ts";
import { Provenance } from "./provenance.ts";
import { mergeInto } from "./merge.ts";
import { isPlainObject, type ConfigDict } from "./types.ts";

export type Override = { op: "set"; path: string[]; value: unknown } | { op: "delete"; path: string[] };

const KEY = /^[A-Za-z0-9_\-/]+(\.[A-Za-z0-9_\-/]+)*$/;

export function parseOverride(arg: string): Override {
  const source = `command-line override '${arg}'`;
  if (arg.startsWith("~")) {
    const key = arg.slice(1).split("=")[0];
    if (!KEY.test(key)) throw new GymConfigError(key, "expected a dotted key after '~'", source);
    return { op: "delete", path: key.split(".") };
  }
  const eq = arg.indexOf("=");
  if (eq < 0) throw new GymConfigError("", "expected key=value, +key=value or ~key", source);
  const key = arg.slice(0, eq).replace(/^\+\+?/, "");
  if (!KEY.test(key)) throw new GymConfigError(key, "expected a dotted key such as head_server.port", source);
  const raw = arg.slice(eq + 1);
  let value: unknown;
  try {
    value = raw === "" ? "" : parse(raw);
  } catch (e) {
    throw new GymConfigError(key, `has a value that is not valid YAML: ${(e as Error).message.split("\n")[0]}`, source);
  }
  return { op: "set", path: key.split("."), value };
}

/** Turn set-overrides into one nested mapping (the "initial config dict"); deletes are applied later. */
export function overridesToDict(overrides: readonly Override[]): ConfigDict {
  const out: ConfigDict = {};
  for (const o of overrides) {
    if (o.op !== "set") continue;
    let node = out;
    for (const k of o.path.slice(0, -1)) {
      if (!isPlainObject(node[k])) node[k] = {};
      node = node[k] as ConfigDict;
    }
    const last = o.path[o.path.length - 1];
    node[last] = isPlainObject(o.value) && isPlainObject(node[last]) ? mergeInto(node[last] as ConfigDict, o.value, "", new Provenance()) : o.value;
  }
  return out;
}

export function applyDeletes(cfg: ConfigDict, overrides: readonly Override[], prov: Provenance): void {
  for (const o of overrides) {
    if (o.op !== "delete") continue;
    let node: unknown = cfg;
    for (const k of o.path.slice(0, -1)) node = isPlainObject(node) ? node[k] : undefined;
    const last = o.path[o.path.length - 1];
    if (!isPlainObject(node) || !(last in node)) {
      throw new GymConfigError(o.path.join("."), "cannot be deleted: no such key", "command line");
    }
    delete node[last];
    prov.clear(o.path);
  }
}
