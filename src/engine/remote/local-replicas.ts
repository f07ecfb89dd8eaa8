/**
 * N `gymrl serve` processes on this machine, as the replicas of a remote engine pool (the recipe's
 * `generation.replicas: N` with no URLs, tests, bench:remote-engine). Each is a child process of
 * bin/gymrl.js on 127.0.0.1 and a free port, answering the OpenAI, SGLang and vLLM routes; it is
 * ready when it prints its base URL. The processes are killed when this process exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../../bin/gymrl.js", import.meta.url));

export interface LocalReplicaOptions {
  /** checkpoint directory every replica serves (or randomInit) */
  modelDir?: string;
  randomInit?: boolean;
  /** how many processes (default 1) */
  count?: number;
  /** ports to bind, one per replica (default: free ports) */
  ports?: readonly number[];
  /** `--kernels` (default auto) */
  kernels?: "auto" | "native" | "reference";
  /** `--slots`: sequences each decodes at once */
  slots?: number;
  maxModelLen?: number;
  /** more `gymrl serve` flags */
  extraArgs?: readonly string[];
  /** how long to wait for a process to print its URL, ms (default 120 s) */
  startTimeoutMs?: number;
}

export interface LocalReplica {
  child: ChildProcess;
  /** http://127.0.0.1:port (no /v1) */
  url: string;
  port: number;
  /** what it wrote to stderr so far (its log) */
  stderr(): string;
}

export interface LocalReplicas {
  replicas: LocalReplica[];
  urls: string[];
  /** Kills replica i (SIGKILL by default) and waits for it to exit. */
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts replica i again on its port (after kill). */
  restart(i: number): Promise<LocalReplica>;
  stop(): Promise<void>;
}

export async function startLocalReplicas(opts: LocalReplicaOptions): Promise<LocalReplicas> {
  if (!opts.modelDir === !opts.randomInit) throw new Error("startLocalReplicas needs exactly one of modelDir and randomInit");
  const count = opts.count ?? 1;
  const args = (port: number) => [
    BIN,
    "serve",
    ...(opts.modelDir ? ["--model", opts.modelDir] : ["--random-init"]),
    "--port",
    String(port),
    ...(opts.kernels ? ["--kernels", opts.kernels] : []),
    ...(opts.slots ? ["--slots", String(opts.slots)] : []),
    ...(opts.maxModelLen ? ["--max-model-len", String(opts.maxModelLen)] : []),
    ...(opts.extraArgs ?? []),
  ];
  const live = new Set<ChildProcess>();
  const killAll = () => {
    for (const c of live) c.kill("SIGKILL");
  };
  process.once("exit", killAll);

  async function start(port: number): Promise<LocalReplica> {
    const child = spawn(process.execPath, args(port), { stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    child.once("exit", () => live.delete(child));
    let log = "";
    child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
    const lines = createInterface({ input: child.stdout! });
    const timeout = opts.startTimeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const [line] = (await Promise.race([
        once(lines, "line"),
        once(child, "exit").then(() => {
          throw new Error(`gymrl serve exited before it was ready:\n${log}`);
        }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`gymrl serve printed no URL within ${timeout} ms:\n${log}`)), timeout);
        }),
      ])) as [string];
      const url = line.trim().replace(/\/v1$/, "");
      return { child, url, port: Number(new URL(url).port), stderr: () => log };
    } catch (e) {
      child.kill("SIGKILL");
      throw e;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  const replicas = await Promise.all(Array.from({ length: count }, (_, i) => start(opts.ports?.[i] ?? 0))).catch((e: unknown) => {
    killAll();
    throw e;
  });
  const stopOne = async (r: LocalReplica, signal: NodeJS.Signals) => {
    if (r.child.exitCode !== null || r.child.signalCode !== null) return;
    const exited = once(r.child, "exit");
    r.child.kill(signal);
    await exited;
  };
  return {
    replicas,
    get urls() {
      return replicas.map((r) => r.url);
    },
    kill: (i, signal = "SIGKILL") => stopOne(replicas[i], signal),
    async restart(i) {
      await stopOne(replicas[i], "SIGKILL");
      replicas[i] = await start(replicas[i].port);
      return replicas[i];
    },
    async stop() {
      await Promise.all(replicas.map((r) => stopOne(r, "SIGTERM")));
      process.off("exit", killAll);
    },
  };
}
