/**
 * One server child process: its own process group (so stopping it stops whatever it started),
 * a tail of its output kept for error reports, and a stop that escalates SIGTERM → SIGKILL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { LaunchPlan } from "./plan.ts";

export type ChildStatus = "starting" | "running" | "exited" | "stopped";

const TAIL_LINES = 200;

export class GymChild {
  readonly proc: ChildProcess;
  readonly startedAt = Date.now();
  status: ChildStatus = "starting";
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  /** Resolves when the process has exited (and been reaped). */
  readonly exited: Promise<void>;
  private readonly lines: string[] = [];
  private partial = { stdout: "", stderr: "" };

  constructor(
    readonly name: string,
    readonly plan: LaunchPlan,
    env: Record<string, string>,
    private readonly onLine?: (name: string, line: string) => void,
  ) {
    this.proc = spawn(plan.command, plan.args, {
      cwd: plan.cwd,
      env: { ...process.env, ...plan.env, ...env },
      stdio: [plan.kind === "ts" ? "pipe" : "ignore", "pipe", "pipe"],
      detached: true, // a process group of its own: kill(-pid) reaches its children too
    });
    this.proc.stdout?.on("data", (d: Buffer) => this.take("stdout", d));
    this.proc.stderr?.on("data", (d: Buffer) => this.take("stderr", d));
    this.exited = new Promise((resolve) => {
      this.proc.once("exit", (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        if (this.status !== "stopped") this.status = "exited";
        resolve();
      });
      this.proc.once("error", (e) => {
        this.lines.push(`[gymrl] could not start ${plan.command}: ${e.message}`);
        if (this.status !== "stopped") this.status = "exited";
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null && this.pid !== undefined && this.status !== "exited";
  }

  /** The last lines of stdout and stderr, interleaved as they came. */
  outputTail(maxLines = 40): string {
    const pending = [this.partial.stdout, this.partial.stderr].filter(Boolean);
    return [...this.lines, ...pending].slice(-maxLines).join("\n");
  }

  describeExit(): string {
    return this.exitSignal ? `was killed by ${this.exitSignal}` : `exited with code ${this.exitCode}`;
  }

  private take(stream: "stdout" | "stderr", d: Buffer): void {
    const text = this.partial[stream] + d.toString("utf8");
    const parts = text.split("\n");
    this.partial[stream] = parts.pop() ?? "";
    for (const line of parts) {
      this.lines.push(line);
      this.onLine?.(this.name, line);
    }
    if (this.lines.length > TAIL_LINES * 2) this.lines.splice(0, this.lines.length - TAIL_LINES);
  }

  /** SIGTERM the group, SIGKILL it after `graceMs`, and wait for the exit. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.status !== "exited") this.status = "stopped";
    if (this.proc.exitCode !== null || this.proc.signalCode !== null || this.pid === undefined) return;
    this.signalGroup("SIGTERM");
    const timer = setTimeout(() => this.signalGroup("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.signalGroup("SIGKILL"); // anything the server left behind in its group
  }

  /** Synchronous last resort, for process 'exit' handlers. */
  killNow(): void {
    this.signalGroup("SIGKILL");
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // the group is already gone
    }
  }
}
