/**
 * The shape of a NeMo Gym global config, as plain data: server types, instance blocks, references
 * and the reserved top-level keys. No loading here (see load.ts), only reading a merged config.
 */

export const SERVER_TYPES = ["responses_api_models", "resources_servers", "responses_api_agents"] as const;
export type ServerType = (typeof SERVER_TYPES)[number];

/** A merged config: YAML mappings are plain objects. */
export type ConfigDict = Record<string, unknown>;

/** Top-level keys that are settings, never server instances (NeMo Gym's NEMO_GYM_RESERVED_TOP_LEVEL_KEYS and friends). */
export const RESERVED_TOP_LEVEL_KEYS = new Set([
  "config_paths",
  "default_host",
  "head_server",
  "disallowed_ports",
  "port_range_low",
  "port_range_high",
  "ray_head_node_address",
  "dry_run",
  "use_absolute_ip",
  "skip_verification",
  "skip_verification_reward",
  "token_id_capture",
  "observability_enabled",
  "model_call_capture_dir",
  "results_dir",
  "cache_dir",
  "global_aiohttp_connector_limit",
  "global_aiohttp_connector_limit_per_host",
  "model_endpoint_readiness_timeout_seconds",
  "policy_base_url",
  "policy_api_key",
  "policy_model_name",
]);

export const DEFAULTS = {
  default_host: "127.0.0.1",
  head_server: { host: "127.0.0.1", port: 11000 },
  port_range_low: 10001,
  port_range_high: 20000,
} as const;

/** `???` is OmegaConf's MISSING: a value the user must provide. */
export const MISSING = "???";

/** One configured server: `<name>: <serverType>: <impl>: {entrypoint, host, port, ...}`. */
export interface ServerInstance {
  name: string;
  serverType: ServerType;
  impl: string;
  /** The impl block itself (entrypoint, host, port and the impl's own fields); shared with the config. */
  block: ConfigDict;
}

/** `{type, name}`: how one server names another. */
export interface ServerRef {
  type: ServerType;
  name: string;
}

export function isPlainObject(v: unknown): v is ConfigDict {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function isServerType(v: unknown): v is ServerType {
  return typeof v === "string" && (SERVER_TYPES as readonly string[]).includes(v);
}

/** A mapping with exactly the keys `type` (a server type) and `name`. */
export function isServerRef(v: unknown): v is ServerRef {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 2 && "type" in v && "name" in v && isServerType(v.type);
}

/** True when a top-level value looks like a server instance: one key, and that key is a server type. */
export function looksLikeInstance(key: string, value: unknown): boolean {
  if (RESERVED_TOP_LEVEL_KEYS.has(key)) return false;
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && isServerType(keys[0]);
}

/**
 * Every server instance in a (validated) config, in file order. Like NeMo Gym's
 * `get_first_server_config_dict`, the impl is the first (only) key below the server type.
 */
export function listServerInstances(cfg: ConfigDict): ServerInstance[] {
  const out: ServerInstance[] = [];
  for (const [name, value] of Object.entries(cfg)) {
    if (!looksLikeInstance(name, value)) continue;
    const serverType = Object.keys(value as ConfigDict)[0] as ServerType;
    const byImpl = (value as ConfigDict)[serverType];
    if (!isPlainObject(byImpl)) continue;
    const impl = Object.keys(byImpl)[0];
    const block = byImpl[impl];
    if (impl === undefined || !isPlainObject(block)) continue;
    out.push({ name, serverType, impl, block });
  }
  return out;
}

/** The instance named `name`, or undefined. */
export function findServerInstance(cfg: ConfigDict, name: string): ServerInstance | undefined {
  return listServerInstances(cfg).find((s) => s.name === name);
}

/** `http://host:port` of an instance whose port is assigned. */
export function instanceUrl(s: ServerInstance): string {
  return `http://${formatHost(String(s.block.host))}:${Number(s.block.port)}`;
}

/** Brackets IPv6 literals so they can sit in a URL. */
export function formatHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
