/**
 * OmegaConf-style merge: mappings merge key by key, everything else (lists included) is replaced.
 * Records the source of every value it writes.
 */
import type { Provenance } from "./provenance.ts";
import { isPlainObject, type ConfigDict } from "./types.ts";

export function mergeInto(target: ConfigDict, src: ConfigDict, source: string, prov: Provenance, path: string[] = []): ConfigDict {
  for (const [key, value] of Object.entries(src)) {
    const p = [...path, key];
    const existing = target[key];
    if (isPlainObject(value) && isPlainObject(existing)) {
      prov.set(p, source);
      mergeInto(existing, value, source, prov, p);
    } else {
      prov.clear(p);
      prov.set(p, source);
      target[key] = cloneValue(value);
    }
  }
  return target;
}

export function cloneValue<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}
