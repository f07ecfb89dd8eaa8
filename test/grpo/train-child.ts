/**
 * `gymrl train` as a real child process, for the fault tests: run to the end (sync), or started
 * in the background so a test can SIGKILL it at a moment it observes. Test support only.
 */
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { REPO } from "./helpers.ts";

export interface TrainExit {
  status: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

const argv = (recipe: string, extra: string[]) => [join(REPO, "bin/gymrl.js"), "train", "--config", recipe, ...extra];
const envFor = (crashAt?: string) => ({ ...process.env, GYMRL_CRASH_AT: crashAt ?? "" });

export function trainSync(recipe: string, extra: string[], crashAt?: string): TrainExit {
  const r = spawnSync(process.execPath, argv(recipe, extra), { cwd: REPO, env: envFor(crashAt), encoding: "utf8", timeout: 120_000 });
  return { status: r.status, signal: r.signal, out: `${r.stdout}\n${r.stderr}` };
}

export interface TrainChild {
  pid: number;
  /** stdout and stderr so far */
  out(): string;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<TrainExit>;
}

export function trainInBackground(recipe: string, extra: string[]): TrainChild {
  const child = spawn(process.execPath, argv(recipe, extra), { cwd: REPO, env: envFor(), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
  child.stderr.on("data", (d: Buffer) => (out += d.toString("utf8")));
  const exited = new Promise<TrainExit>((resolve) => child.once("close", (status, signal) => resolve({ status, signal, out })));
  return { pid: child.pid!, out: () => out, kill: (s) => child.kill(s), exited };
}

/** The Gym children a `--gym-output` run reported ("... listening on URL (pid N)"). */
export function gymPids(out: string): number[] {
  return [...out.matchAll(/listening on \S+ \(pid (\d+)\)/g)].map((m) => Number(m[1]));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
