/**
 * Starting Gym (NeMo Gym `RunHelper.start`): load and merge the config, give every server an
 * address, start the head server in this process, start each server as a child process, wait
 * until each answers `GET /`. The returned handle stops everything (children get SIGTERM, then
 * SIGKILL; no orphans), reports a server that died with its name and output, and keeps
 * /server_instances current. If this process exits without stop(), the children are killed from
 * its 'exit' handler, and TypeScript children also exit by themselves when our pipe closes.
 */
import { GymClient } from "../client.ts";
import { loadGymConfig, type LoadGymConfigOptions } from "../config/load.ts";
import { assignServerAddresses } from "../config/ports.ts";
import { formatHost, instanceUrl, listServerInstances, type ConfigDict, type ServerType } from "../config/types.ts";
import { GymConfigError, GymServerError } from "../errors.ts";
import { configToYaml, startHeadServer } from "../head-server.ts";
import type { Listening } from "../http/app.ts";
import type { ServerInstanceDisplay } from "../protocol/gym.ts";
import { GymChild, type ChildStatus } from "./child.ts";
import { planLaunch, type PlanOptions } from "./plan.ts";
import { waitUntilServing } from "./readiness.ts";

export interface StartGymOptions extends LoadGymConfigOptions, PlanOptions {
  /** Head server port when the config sets none: 0 (any free port) by default; the CLI uses 11000 like NeMo Gym. */
  defaultHeadPort?: number;
  /** How long each server may take to answer GET / (default 120 s). */
  startupTimeoutMs?: number;
  /** Every output line of every child, e.g. to print it with a `[name]` prefix. */
  onOutput?: (server: string, line: string) => void;
  /**
   * Shared secret handed to every child (GYMRL_GYM_SECRET): TypeScript servers then answer only
   * callers that send it, and the returned client does. Default: GYMRL_GYM_SECRET of this process.
   */
  secret?: string;
  /** Called once for each server that exits while Gym is running (not during stop()). */
  onServerExit?: (server: GymServerHandle, error: GymServerError) => void;
}

export interface GymServerHandle {
  name: string;
  serverType: ServerType;
  impl: string;
  url: string;
  kind: "ts" | "python";
  readonly pid: number | undefined;
  readonly status: ChildStatus;
  outputTail(maxLines?: number): string;
}

export interface GymHandle {
  headUrl: string;
  /** The merged config with every address filled in (what the head server serves). */
  config: ConfigDict;
  servers: GymServerHandle[];
  /** A client that resolves names from this Gym's config. */
  client: GymClient;
  /** Throws a GymServerError naming the first server that has died, with its output. */
  check(): void;
  stop(): Promise<void>;
}

export async function startGym(opts: StartGymOptions = {}): Promise<GymHandle> {
  const { config, provenance } = loadGymConfig(opts);
  const instances = listServerInstances(config);
  if (instances.length === 0) throw new GymConfigError("", "defines no server instances (<name>: <server_type>: <impl>: {entrypoint: ...})", "config");
  const secret = opts.secret ?? (process.env.GYMRL_GYM_SECRET || undefined);
  const plans = new Map(instances.map((s) => [s.name, planLaunch(s, opts)]));

  const head = config.head_server as { host: string; port: number };
  // NeMo Gym's default head port is 11000; gymrl uses it only when asked (the CLI does), so that
  // in-process users (tests, the trainer) never collide on it.
  const headWasSet = provenance.sourceOf(["head_server", "port"]) !== "gymrl defaults";
  await assignServerAddresses(config);

  const children: GymChild[] = [];
  let headServer: Listening | undefined;
  let stopping = false;
  const killAll = () => children.forEach((c) => c.killNow());
  process.once("exit", killAll);

  const display = (): ServerInstanceDisplay[] =>
    children.map((c) => {
      const s = instances.find((i) => i.name === c.name)!;
      const plan = plans.get(c.name)!;
      return {
        config_path: c.name,
        dir_path: plan.dirPath,
        entrypoint: String(s.block.entrypoint),
        host: String(s.block.host),
        name: c.name,
        pid: c.pid ?? null,
        port: Number(s.block.port),
        process_name: plan.processName,
        server_type: s.serverType,
        start_time: c.startedAt / 1000,
        status: c.status,
        uptime_seconds: (Date.now() - c.startedAt) / 1000,
        url: instanceUrl(s),
      };
    });

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(children.map((c) => c.stop()));
    await headServer?.close();
    process.off("exit", killAll);
  };

  try {
    const port = headWasSet ? head.port : (opts.defaultHeadPort ?? 0);
    try {
      headServer = await startHeadServer({ config: () => config, instances: display, host: head.host, port, secret });
    } catch (e) {
      throw new GymConfigError("head_server.port", `cannot listen on ${head.host}:${port}: ${(e as Error).message} (use +head_server.port=0 for any free port)`);
    }
    head.port = headServer.port;
    const yaml = configToYaml(config);

    for (const s of instances) {
      children.push(new GymChild(s.name, plans.get(s.name)!, { NEMO_GYM_CONFIG_DICT: yaml, NEMO_GYM_CONFIG_PATH: s.name, ...(secret ? { GYMRL_GYM_SECRET: secret } : {}) }, opts.onOutput));
    }
    const timeout = opts.startupTimeoutMs ?? 120_000;
    await Promise.all(children.map((c) => waitUntilServing(c, instanceUrl(instances.find((i) => i.name === c.name)!), timeout)));
  } catch (e) {
    await stop();
    throw e;
  }

  const deathError = (c: GymChild) => new GymServerError(c.name, `${c.describeExit()} while Gym was running`, c.outputTail());
  for (const c of children) {
    void c.exited.then(() => {
      if (!stopping) opts.onServerExit?.(handles.find((h) => h.name === c.name)!, deathError(c));
    });
  }

  const handles: GymServerHandle[] = children.map((c) => {
    const s = instances.find((i) => i.name === c.name)!;
    return {
      name: c.name,
      serverType: s.serverType,
      impl: s.impl,
      url: instanceUrl(s),
      kind: c.plan.kind,
      get pid() {
        return c.pid;
      },
      get status() {
        return c.status;
      },
      outputTail: (n?: number) => c.outputTail(n),
    };
  });

  return {
    headUrl: `http://${formatHost(head.host)}:${head.port}`,
    config,
    servers: handles,
    client: new GymClient(config, secret ? { secret } : {}),
    check() {
      const dead = children.find((c) => c.status === "exited");
      if (dead) throw deathError(dead);
    },
    stop,
  };
}
