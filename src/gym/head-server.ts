/**
 * The head server (NeMo Gym `HeadServer`), run inside the launcher's process:
 *   GET /                         {"status": "ok"}
 *   GET /global_config_dict_yaml  the merged config as YAML, sent as a JSON string, with secret
 *                                 values (api keys, tokens, passwords) replaced by "***"; NeMo Gym
 *                                 hands them out, but children get the full config from the launcher
 *                                 and callers of the head only need addresses
 *   GET /server_instances         one ServerInstanceDisplayConfig per launched server
 */
import { stringify } from "yaml";
import type { ConfigDict } from "./config/types.ts";
import { createApp, listen, type Listening } from "./http/app.ts";
import type { ServerInstanceDisplay } from "./protocol/gym.ts";

export function configToYaml(cfg: ConfigDict): string {
  return stringify(cfg, { aliasDuplicateObjects: false, lineWidth: 0 });
}

/** Key names whose values are credentials: api_key, policy_api_key, hf_token, password, secret, ... */
const SECRET_KEY = /(^|_)(api_?key|secret|password|passwd|token|access_key|private_key|credentials?)$/i;

/** A copy of `value` with every credential-named key's value replaced by "***". */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== null && v !== "" ? "***" : redactSecrets(v);
  return out;
}

export function startHeadServer(opts: {
  config: () => ConfigDict;
  instances: () => ServerInstanceDisplay[];
  host: string;
  port: number;
  /** When set, every route but `GET /` needs it (http/app.ts SECRET_HEADER). */
  secret?: string;
}): Promise<Listening> {
  const app = createApp({
    secret: opts.secret,
    routes: [
      { method: "GET", path: "/", handler: () => ({ status: "ok" }) },
      { method: "GET", path: "/global_config_dict_yaml", handler: () => configToYaml(redactSecrets(opts.config()) as ConfigDict) },
      { method: "GET", path: "/server_instances", handler: () => opts.instances() },
    ],
  });
  return listen(app, opts.host, opts.port);
}
