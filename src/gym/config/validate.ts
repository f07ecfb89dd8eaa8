/**
 * Checks on a merged, interpolated config: no `???` left, every server instance well formed,
 * every `{type, name}` reference names an instance of that type, settings have the right types.
 * Each error names the key, the file it came from and what was expected.
 */
import { GymConfigError } from "../errors.ts";
import { FETCH_BLOCKED_PORTS } from "./ports.ts";
import type { Provenance } from "./provenance.ts";
import {
  MISSING,
  RESERVED_TOP_LEVEL_KEYS,
  SERVER_TYPES,
  isPlainObject,
  isServerRef,
  isServerType,
  listServerInstances,
  type ConfigDict,
} from "./types.ts";

export function validateConfig(cfg: ConfigDict, prov: Provenance): void {
  const err = (path: string[], expected: string) => new GymConfigError(path.join("."), expected, prov.sourceOf(path));

  walk(cfg, [], (value, path) => {
    if (value === MISSING) throw err(path, `is ??? (a required value); give it in a config file or as +${path.join(".")}=...`);
  });

  validateSettings(cfg, err);

  for (const [name, value] of Object.entries(cfg)) {
    if (RESERVED_TOP_LEVEL_KEYS.has(name) || !isPlainObject(value)) continue;
    const keys = Object.keys(value);
    if (!keys.some(isServerType)) continue; // a free-form top-level setting, not a server
    if (keys.length !== 1) throw err([name], `expected exactly one server type key (${SERVER_TYPES.join(" | ")}), got ${keys.join(", ")}`);
    const serverType = keys[0];
    const byImpl = value[serverType];
    if (!isPlainObject(byImpl) || Object.keys(byImpl).length !== 1) {
      throw err([name, serverType], "expected exactly one implementation key, e.g. simple_agent: {entrypoint: app.py}");
    }
    const impl = Object.keys(byImpl)[0];
    const block = byImpl[impl];
    const p = [name, serverType, impl];
    if (!isPlainObject(block)) throw err(p, "expected a mapping with at least 'entrypoint'");
    if (typeof block.entrypoint !== "string" || block.entrypoint === "") throw err([...p, "entrypoint"], "expected a file name such as app.py");
    if (block.host !== undefined && block.host !== null && typeof block.host !== "string") throw err([...p, "host"], "expected a host name or IP");
    if (block.port !== undefined && block.port !== null && !isPort(block.port)) throw err([...p, "port"], "expected an integer port in 1..65535 (and not one fetch blocks, such as 6000 or 10080)");
    if (serverType === "resources_servers" && (typeof block.domain !== "string" || block.domain === "")) {
      throw err([...p, "domain"], "is required for resources servers (e.g. math, agent, knowledge)");
    }
  }

  const instances = listServerInstances(cfg);
  walk(cfg, [], (value, path) => {
    if (!isServerRef(value)) return;
    const target = instances.find((s) => s.name === value.name);
    if (target && target.serverType === value.type) return;
    const sameType = instances.filter((s) => s.serverType === value.type).map((s) => s.name);
    const found = target ? ` ('${value.name}' is a ${target.serverType} server)` : "";
    throw err([...path, "name"], `references ${value.type} '${value.name}', which is not configured${found}; configured ${value.type}: ${sameType.join(", ") || "none"}`);
  });
}

function validateSettings(cfg: ConfigDict, err: (p: string[], e: string) => GymConfigError): void {
  const hs = cfg.head_server;
  if (!isPlainObject(hs)) throw err(["head_server"], "expected a mapping {host, port}");
  if (typeof hs.host !== "string") throw err(["head_server", "host"], "expected a host name or IP");
  if (!isPort(hs.port) && hs.port !== 0) throw err(["head_server", "port"], "expected an integer port (0 = any free port)");
  if (typeof cfg.default_host !== "string") throw err(["default_host"], "expected a host name or IP");
  for (const k of ["port_range_low", "port_range_high"]) if (!isPort(cfg[k])) throw err([k], "expected an integer port in 1..65535 (and not one fetch blocks, such as 6000 or 10080)");
  if ((cfg.port_range_low as number) > (cfg.port_range_high as number)) throw err(["port_range_low"], "expected port_range_low <= port_range_high");
  const dp = cfg.disallowed_ports;
  if (dp !== undefined && dp !== null && !(Array.isArray(dp) && dp.every(isPort))) throw err(["disallowed_ports"], "expected a list of ports");
}

function isPort(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535 && !FETCH_BLOCKED_PORTS.has(v);
}

function walk(v: unknown, path: string[], visit: (v: unknown, path: string[]) => void): void {
  visit(v, path);
  if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) walk(x, [...path, k], visit);
  else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, String(i)], visit));
}
