/**
 * OmegaConf-style interpolation, resolved once at load time: `${a.b}` is the value at that
 * absolute path (a string that is only the interpolation keeps the value's type, so
 * `base_url: ${policy_base_url}` can be a list); `${a}` inside a longer string is text.
 * `${oc.env:NAME}` and `${oc.env:NAME,default}` read the environment.
 */
import { GymConfigError } from "../errors.ts";
import type { Provenance } from "./provenance.ts";
import { MISSING, isPlainObject, type ConfigDict } from "./types.ts";

const ONE = /\$\{([^${}]+)\}/g;
const WHOLE = /^\$\{([^${}]+)\}$/;

export function resolveInterpolations(cfg: ConfigDict, prov: Provenance, env: NodeJS.ProcessEnv = process.env): void {
  const resolving = new Set<string>();

  const err = (path: string[], expected: string) => new GymConfigError(path.join("."), expected, prov.sourceOf(path));

  function lookup(expr: string, from: string[]): unknown {
    const e = expr.trim();
    if (e.startsWith("oc.env:")) {
      const [name, ...dflt] = e.slice("oc.env:".length).split(",");
      const v = env[name.trim()];
      if (v !== undefined) return v;
      if (dflt.length > 0) return dflt.join(",").trim().replace(/^['"]|['"]$/g, "");
      throw err(from, `interpolates environment variable ${name.trim()}, which is not set`);
    }
    if (/^[A-Za-z_][\w.]*:/.test(e)) throw err(from, `uses the resolver '\${${e}}', which gymrl does not support`);
    const target = e.split(".");
    let node: unknown = cfg;
    for (let i = 0; i < target.length; i++) {
      if (!isPlainObject(node) || !(target[i] in node)) {
        throw err(from, `interpolates \${${e}}, but '${e}' is not set; give it in a config file, env.yaml or as +${e}=...`);
      }
      node = resolveAt(target.slice(0, i + 1));
    }
    if (node === MISSING) throw err(from, `interpolates \${${e}}, but '${e}' is ??? (a required value); give it as +${e}=...`);
    return structuredClone(node);
  }

  /** Resolve the value at an absolute path (mapping keys or list indices) in place and return it. */
  function resolveAt(path: string[]): unknown {
    let parent: unknown = cfg;
    for (const k of path.slice(0, -1)) parent = (parent as Record<string, unknown>)[k];
    const key = path[path.length - 1];
    const obj = parent as Record<string, unknown>;
    const value = obj[key];
    if (typeof value === "string" && value.includes("${")) {
      const id = path.join(".");
      if (resolving.has(id)) throw err(path, `is part of an interpolation cycle: ${[...resolving, id].join(" -> ")}`);
      resolving.add(id);
      obj[key] = resolveString(value, path);
      resolving.delete(id);
    } else if (isPlainObject(value)) {
      for (const k of Object.keys(value)) resolveAt([...path, k]);
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) resolveAt([...path, String(i)]);
    }
    return obj[key];
  }

  function resolveString(s: string, path: string[]): unknown {
    const whole = WHOLE.exec(s);
    if (whole) return lookup(whole[1], path);
    return s.replace(ONE, (_m, expr: string) => {
      const v = lookup(expr, path);
      return typeof v === "string" ? v : JSON.stringify(v);
    });
  }

  for (const k of Object.keys(cfg)) resolveAt([k]);
}
