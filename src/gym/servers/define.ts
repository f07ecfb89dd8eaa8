/**
 * What every Gym server implementation provides (a ServerDefinition), and how one is started:
 * in-process with `startServer` (tests, embedding) or as a child process from NeMo Gym's
 * environment variables with `runServerFromEnv` (the launcher; see child-main.ts).
 */
import { parse as parseYaml } from "yaml";
import { GymClient } from "../client.ts";
import { findServerInstance, type ConfigDict, type ServerType } from "../config/types.ts";
import { GymConfigError } from "../errors.ts";
import { checkBind } from "../../server/http-policy.ts";
import { createApp, listen, type Listening, type Route } from "../http/app.ts";

export interface ServerContext {
  instanceName: string;
  serverType: ServerType;
  impl: string;
  /** This server's own block: `cfg[instanceName][serverType][impl]`. */
  config: ConfigDict;
  /** The whole merged config (every process holds it, as in NeMo Gym). */
  globalConfig: ConfigDict;
  /** Calls other Gym servers by instance name. */
  client: GymClient;
}

export interface ServerDefinition {
  serverType: ServerType;
  /** Stands for NeMo Gym's class name in the session cookie name `{className}___{instance}`. */
  className: string;
  /** Routes of this server; `GET /` is added for every server. */
  routes(ctx: ServerContext): Route[] | Promise<Route[]>;
}

export interface RunningServer extends Listening {
  name: string;
}

/** Identity, for types. */
export function defineServer(def: ServerDefinition): ServerDefinition {
  return def;
}

export async function startServer(
  def: ServerDefinition,
  opts: {
    globalConfig: ConfigDict;
    instanceName: string;
    host?: string;
    port?: number;
    client?: GymClient;
    /** Shared secret every call but `GET /` must carry (the launcher hands it over in GYMRL_GYM_SECRET). */
    secret?: string;
    /** Largest request body (default 64 MiB, http-policy.ts GYM_MAX_BODY_BYTES). */
    maxBodyBytes?: number;
  },
): Promise<RunningServer> {
  const inst = findServerInstance(opts.globalConfig, opts.instanceName);
  if (!inst) throw new GymConfigError(opts.instanceName, "is not a server instance in the given config");
  if (inst.serverType !== def.serverType) {
    throw new GymConfigError(opts.instanceName, `is a ${inst.serverType} server but its implementation is a ${def.serverType} server`);
  }
  const ctx: ServerContext = {
    instanceName: inst.name,
    serverType: inst.serverType,
    impl: inst.impl,
    config: inst.block,
    globalConfig: opts.globalConfig,
    client: opts.client ?? new GymClient(opts.globalConfig, opts.secret ? { secret: opts.secret } : {}),
  };
  const routes: Route[] = [{ method: "GET", path: "/", handler: () => ({ status: "ok" }) }, ...(await def.routes(ctx))];
  const app = createApp({
    routes,
    sessionCookie: `${def.className}___${inst.name}`,
    secret: opts.secret,
    maxBodyBytes: opts.maxBodyBytes,
    onError: (e, r) => console.error(`[${inst.name}] ${r.method} ${r.path} failed:`, e),
  });
  const host = opts.host ?? (typeof inst.block.host === "string" ? inst.block.host : "127.0.0.1");
  const port = opts.port ?? (typeof inst.block.port === "number" ? inst.block.port : 0);
  checkBind(host, Boolean(opts.secret), { server: `Gym server ${inst.name}`, keyHint: "set GYMRL_GYM_SECRET for the launcher" });
  const l = await listen(app, host, port);
  return { ...l, name: inst.name };
}

/**
 * Child-process entry, NeMo Gym's way: the whole merged config arrives as YAML in
 * NEMO_GYM_CONFIG_DICT and this process's instance name in NEMO_GYM_CONFIG_PATH.
 */
export async function runServerFromEnv(def: ServerDefinition, env: NodeJS.ProcessEnv = process.env): Promise<RunningServer> {
  const yaml = env.NEMO_GYM_CONFIG_DICT;
  const name = env.NEMO_GYM_CONFIG_PATH;
  if (!yaml || !name) throw new GymConfigError("NEMO_GYM_CONFIG_DICT", "and NEMO_GYM_CONFIG_PATH must be set (the launcher sets them)", "environment");
  const globalConfig = parseYaml(yaml) as ConfigDict;
  const server = await startServer(def, { globalConfig, instanceName: name, secret: env.GYMRL_GYM_SECRET || undefined });
  console.log(`${def.serverType} server ${name} listening on ${server.url} (pid ${process.pid})`);

  const stop = () => {
    void server.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // The launcher holds our stdin open; when it goes away (even killed with SIGKILL) stdin ends,
  // and this server must not outlive it.
  if (env.GYMRL_EXIT_WITH_STDIN === "1") {
    process.stdin.on("end", stop);
    process.stdin.on("error", stop);
    process.stdin.resume();
  }
  return server;
}
