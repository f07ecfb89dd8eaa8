/**
 * gymrl's Gym layer, public entry: config loading, starting Gym (head server + server children),
 * the client, and the bases for writing servers. Rollout collection and the trainer import from here.
 */
export { loadGymConfig, GYMRL_ROOT, type LoadGymConfigOptions, type LoadedGymConfig } from "./config/load.ts";
export { assignServerAddresses } from "./config/ports.ts";
export { listServerInstances, findServerInstance, instanceUrl, SERVER_TYPES, type ConfigDict, type ServerInstance, type ServerRef, type ServerType } from "./config/types.ts";
export { GymConfigError, GymServerError, GymClientError, GymConnectionError, GymHttpError } from "./errors.ts";
export { startGym, type StartGymOptions, type GymHandle, type GymServerHandle } from "./launcher/start-gym.ts";
export { formatStatusTable } from "./launcher/status-table.ts";
export { startHeadServer, configToYaml } from "./head-server.ts";
export { GymClient, RolloutSession, okJson, type RequestOptions, type CallOptions, type HttpResult } from "./client.ts";
export { CookieJar } from "./http/cookies.ts";
export { HttpError } from "./http/errors.ts";
export { Reply, type Route, type RequestContext } from "./http/app.ts";
export { defineServer, startServer, runServerFromEnv, type ServerDefinition, type ServerContext, type RunningServer } from "./servers/define.ts";
export { defineResourcesServer, tool, type ResourcesServerSpec, type ToolDef, type VerifyResult, type Session } from "./servers/resources/define.ts";
export { TS_IMPLEMENTATIONS, findTsImplementation } from "./registry.ts";
export * as protocol from "./protocol/index.ts";
