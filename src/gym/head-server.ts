/**
 * The head server (NeMo Gym `HeadServer`), run inside the launcher's process:
 *   GET /                         {"status": "ok"}
 *   GET /global_config_dict_yaml  the merged config as YAML, sent as a JSON string (NeMo Gym's
 *                                 FastAPI returns OmegaConf.to_yaml(...); secrets are not hidden)
 *   GET /server_instances         one ServerInstanceDisplayConfig per launched server
 */
import { stringify } from "yaml";
import type { ConfigDict } from "./config/types.ts";
import { createApp, listen, type Listening } from "./http/app.ts";
import type { ServerInstanceDisplay } from "./protocol/gym.ts";

export function configToYaml(cfg: ConfigDict): string {
  return stringify(cfg, { aliasDuplicateObjects: false, lineWidth: 0 });
}

export function startHeadServer(opts: {
  config: () => ConfigDict;
  instances: () => ServerInstanceDisplay[];
  host: string;
  port: number;
}): Promise<Listening> {
  const app = createApp({
    routes: [
      { method: "GET", path: "/", handler: () => ({ status: "ok" }) },
      { method: "GET", path: "/global_config_dict_yaml", handler: () => configToYaml(opts.config()) },
      { method: "GET", path: "/server_instances", handler: () => opts.instances() },
    ],
  });
  return listen(app, opts.host, opts.port);
}
