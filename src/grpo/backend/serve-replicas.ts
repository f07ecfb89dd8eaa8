/**
 * `generation.replicas: N` with no `generation.urls`: the run starts N `gymrl serve` processes on
 * this machine (each its own embedded engine on the checkpoint, speaking the OpenAI, vLLM-control
 * and SGLang-native dialects) and hands their URLs to the remote pool — a real multi-process engine
 * pool without vLLM or SGLang installed. Each replica prints its base URL on stdout when ready.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const GYMRL_BIN = fileURLToPath(new URL("../../../bin/gymrl.js", import.meta.url));

export interface ServeReplicasOptions {
  modelDir: string;
  count: number;
  slots: number;
  kernels: string;
  /** seconds a replica may take to print its URL */
  startTimeoutS?: number;
  /** each replica's stderr lines */
  onLog?: (replica: number, line: string) => void;
}

export interface ServeReplicas {
  urls: string[];
  children: ChildProcess[];
  stop(): Promise<void>;
}

function startOne(i: number, o: ServeReplicasOptions): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [GYMRL_BIN, "serve", "--model", o.modelDir, "--port", "0", "--slots", String(o.slots), "--kernels", o.kernels, "--served-model-name", "gymrl-policy"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tail: string[] = [];
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    for (const line of d.split("\n").filter(Boolean)) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      o.onLog?.(i, line);
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`gymrl serve replica ${i} printed no URL within ${o.startTimeoutS ?? 120} s; last lines:\n${tail.join("\n")}`));
    }, (o.startTimeoutS ?? 120) * 1000);
    let buf = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ url: buf.slice(0, nl).trim().replace(/\/v1$/, ""), child });
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`gymrl serve replica ${i} exited (${signal ?? `code ${code}`}) before it was ready; last lines:\n${tail.join("\n")}`));
    });
  });
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          const kill = setTimeout(() => c.kill("SIGKILL"), 5000);
          c.once("exit", () => {
            clearTimeout(kill);
            r();
          });
          c.kill("SIGTERM");
        }),
    ),
  );
}

export async function startServeReplicas(o: ServeReplicasOptions): Promise<ServeReplicas> {
  const started = await Promise.allSettled(Array.from({ length: o.count }, (_, i) => startOne(i, o)));
  const children = started.flatMap((s) => (s.status === "fulfilled" ? [s.value.child] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await stopAll(children);
    throw failed.reason;
  }
  const ok = started as PromiseFulfilledResult<{ url: string; child: ChildProcess }>[];
  return { urls: ok.map((s) => s.value.url), children, stop: () => stopAll(children) };
}
