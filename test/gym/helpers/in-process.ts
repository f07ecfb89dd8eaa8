/** Start every server of a config inside the test process (fast; the launcher test covers child processes). */
import { pathToFileURL } from "node:url";
import {
  assignServerAddresses,
  findTsImplementation,
  listServerInstances,
  loadGymConfig,
  startServer,
  type ConfigDict,
  type RunningServer,
  type ServerDefinition,
} from "../../../src/gym/index.ts";

export interface InProcessGym {
  config: ConfigDict;
  url(name: string): string;
  close(): Promise<void>;
}

export async function startInProcess(configPaths: string[], overrides: string[], replace: Record<string, ServerDefinition> = {}): Promise<InProcessGym> {
  const { config } = loadGymConfig({ configPaths, overrides, envYaml: false });
  await assignServerAddresses(config);
  const servers: RunningServer[] = [];
  for (const s of listServerInstances(config)) {
    const def = replace[s.name] ?? ((await import(pathToFileURL(findTsImplementation(s.serverType, s.impl)!).href)) as { default: ServerDefinition }).default;
    servers.push(await startServer(def, { globalConfig: config, instanceName: s.name }));
  }
  return {
    config,
    url: (name) => servers.find((s) => s.name === name)!.url,
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
