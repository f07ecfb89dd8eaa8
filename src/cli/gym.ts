/**
 * `gymrl gym`: start Gym from NeMo Gym configs, query a running one, print a resolved config.
 *   gymrl gym start --config a.yaml [--config b.yaml] [+key=value ...]
 *   gymrl gym status [--head http://127.0.0.1:11000]
 *   gymrl gym resolve --config a.yaml [+key=value ...]
 */
import { defineCommand } from "citty";
import { callWithRetry } from "../gym/http/fetch.ts";
import {
  configToYaml,
  formatStatusTable,
  GymConfigError,
  GymServerError,
  loadGymConfig,
  protocol,
  startGym,
  type GymHandle,
} from "../gym/index.ts";

/** Repeated --config flags, shortcut flags and the positional overrides, from the raw argv. */
function parseGymArgs(raw: string[]): { configPaths: string[]; overrides: string[]; flags: Record<string, string> } {
  const configPaths: string[] = [];
  const overrides: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i];
    const [flag, inline] = a.startsWith("--") ? (a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined]) : [undefined, undefined];
    if (flag) {
      const value = inline ?? (["--quiet"].includes(flag) ? "true" : raw[++i]);
      if (value === undefined) throw new GymConfigError(flag, "expects a value", "command line");
      if (flag === "--config") configPaths.push(value);
      else flags[flag.slice(2)] = value;
    } else {
      overrides.push(a);
    }
  }
  // NeMo Gym's shortcut flags are overrides of the policy_* keys.
  if (flags["model-url"]) overrides.push(`+policy_base_url=${flags["model-url"]}`);
  if (flags.model) overrides.push(`+policy_model_name=${flags.model}`);
  if (flags["model-api-key"]) overrides.push(`+policy_api_key=${flags["model-api-key"]}`);
  return { configPaths, overrides, flags };
}

const commonArgs = {
  config: { type: "string", description: "config file; repeat for several (merged in order)" },
  "env-yaml": { type: "string", description: "env.yaml to merge (default ./env.yaml when present)" },
  "model-url": { type: "string", description: "same as +policy_base_url=..." },
  model: { type: "string", description: "same as +policy_model_name=..." },
  "model-api-key": { type: "string", description: "same as +policy_api_key=..." },
} as const;

const start = defineCommand({
  meta: { name: "start", description: "Start the head server and every configured server; Ctrl-C stops them all" },
  args: {
    ...commonArgs,
    "nemo-gym-dir": { type: "string", description: "NeMo Gym checkout for servers gymrl has no implementation of (or NEMO_GYM_DIR)" },
    "startup-timeout": { type: "string", description: "seconds each server may take to answer GET / (default 120)" },
    quiet: { type: "boolean", description: "do not print the servers' output" },
  },
  async run({ rawArgs }) {
    const { configPaths, overrides, flags } = parseGymArgs(rawArgs);
    let gym: GymHandle | undefined;
    let exiting = false;
    const shutdown = async (code: number) => {
      if (exiting) return;
      exiting = true;
      await gym?.stop();
      process.exit(code);
    };
    process.on("SIGINT", () => void shutdown(130));
    process.on("SIGTERM", () => void shutdown(143));
    try {
      gym = await startGym({
        configPaths,
        overrides,
        envYaml: flags["env-yaml"],
        nemoGymDir: flags["nemo-gym-dir"] ?? process.env.NEMO_GYM_DIR,
        defaultHeadPort: 11000,
        startupTimeoutMs: flags["startup-timeout"] ? Number(flags["startup-timeout"]) * 1000 : undefined,
        onOutput: flags.quiet ? undefined : (name, line) => process.stderr.write(`[${name}] ${line}\n`),
        onServerExit: (_s, err) => {
          console.error(`\n${err.message}\nStopping Gym.`);
          void shutdown(1);
        },
      });
    } catch (e) {
      if (e instanceof GymConfigError || e instanceof GymServerError) {
        console.error(String(e.message));
        process.exit(1);
      }
      throw e;
    }
    const res = await callWithRetry("head_server", `${gym.headUrl}/server_instances`, { method: "GET" });
    console.log(formatStatusTable(res.json<protocol.ServerInstanceDisplay[]>(), gym.headUrl));
    console.log("Gym is up. Ctrl-C to stop.");
    await new Promise(() => {}); // until a signal or a server exit
  },
});

const status = defineCommand({
  meta: { name: "status", description: "Show the servers of a running Gym (asks its head server)" },
  args: { head: { type: "string", description: "head server URL", default: "http://127.0.0.1:11000" } },
  async run({ args }) {
    const head = String(args.head).replace(/\/+$/, "");
    let rows: protocol.ServerInstanceDisplay[];
    try {
      const res = await callWithRetry("head_server", `${head}/server_instances`, { method: "GET" }, { maxRetries: 1, timeoutMs: 10_000 });
      rows = res.json<protocol.ServerInstanceDisplay[]>();
    } catch (e) {
      console.error(`No Gym head server answered at ${head}: ${(e as Error).message}`);
      process.exit(1);
    }
    // The head server knows what it started; ask each server whether it still answers.
    const live = await Promise.all(
      rows.map((r) =>
        callWithRetry(r.name, `${r.url}/`, { method: "GET" }, { maxRetries: 0, timeoutMs: 5000 }).then(
          () => r,
          () => ({ ...r, status: r.status === "running" ? "not answering" : r.status }),
        ),
      ),
    );
    console.log(formatStatusTable(live, head));
    process.exit(0); // pooled keep-alive connections would hold the process open for a while
  },
});

const resolve = defineCommand({
  meta: { name: "resolve", description: "Print the merged, interpolated config (ports not yet assigned)" },
  args: commonArgs,
  run({ rawArgs }) {
    const { configPaths, overrides, flags } = parseGymArgs(rawArgs);
    try {
      process.stdout.write(configToYaml(loadGymConfig({ configPaths, overrides, envYaml: flags["env-yaml"] }).config));
    } catch (e) {
      if (e instanceof GymConfigError) {
        console.error(e.message);
        process.exit(1);
      }
      throw e;
    }
  },
});

export default defineCommand({
  meta: { name: "gym", description: "Run NeMo-Gym-compatible servers: start, status, resolve" },
  subCommands: { start, status, resolve },
});
