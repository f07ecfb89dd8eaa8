/**
 * Starts the PyTorch worker's ranks (python/gymrl_torch) as child processes and watches them.
 *
 * Two launch paths behind `launcher`:
 *   "spawn"    gymrl starts N processes itself with the environment torchrun would set (MASTER_ADDR,
 *              MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK): works where torchrun does not (Debian's
 *              torch 1.13 on Python 3.11 fails inside torchrun before starting a rank).
 *   "torchrun" `python -m torch.distributed.run --nproc_per_node N [--nnodes M --node_rank k
 *              --rdzv_backend c10d --rdzv_endpoint host:port] -m gymrl_torch …`, the usual way on a
 *              GPU cluster with a current torch.
 * Multi-host: this process starts node `nodeRank`'s ranks only; every other node runs the same
 * worker command with its own node rank (python/README.md). Rank 0, on node 0, serves the control API.
 *
 * Each rank's output goes into a ring buffer of its last lines (ranks prefix their lines with
 * "[gymrl_torch rank r]", so torchrun's merged stream is attributed too), so a dead or hung rank is
 * reported with its own last words.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { cpus } from "node:os";
import type { AdamWConfig } from "../../model/optimizer.ts";

/** The folder that holds the gymrl_torch package (put on PYTHONPATH). */
export const PYTHON_PACKAGE_ROOT = fileURLToPath(new URL("../../../python", import.meta.url));
const READY = "GYMRL_TORCH_READY ";

export interface TorchLaunchOptions {
  /** checkpoint directory the weights (and with restoreOptimizer, the AdamW moments) come from */
  checkpoint: string;
  restoreOptimizer?: boolean;
  /** ranks on this host (default 1) */
  nprocPerNode?: number;
  launcher?: "spawn" | "torchrun";
  /** multi-host: node count, this node's rank, the rendezvous host:port (rank 0's host) */
  nnodes?: number;
  nodeRank?: number;
  rdzvEndpoint?: string;
  /** "ddp" (default); "fsdp" is refused by the worker where it is not available */
  strategy?: "ddp" | "fsdp";
  /** interpreter; default GYMRL_PYTHON, else /usr/bin/python3, else python3 — the first that imports torch */
  python?: string;
  adamw?: Partial<AdamWConfig>;
  microBatchTokens?: number;
  /** scoring temperature: softmax(logits / T) (default 1) */
  temperature?: number;
  dtype?: "float32" | "float64";
  /** torch threads per rank (default: this host's cores / ranks, at least 1) */
  threadsPerRank?: number;
  /** seconds to wait for rank 0's ready line (default 180) */
  startTimeoutS?: number;
  /** lines kept per rank for error reports (default 40) */
  logLines?: number;
  /** every line any rank writes, as it comes */
  onLog?: (rank: number, line: string) => void;
}

export interface ReadyInfo {
  port: number;
  pid: number;
  python: string;
  world_size: number;
  num_params: number;
  description: string;
  device: string;
  backend: string;
  torch: string;
}

// ------------------------------------------------------------------------------------------------
// finding an interpreter that imports torch

export interface TorchPython {
  python: string;
  torchVersion: string;
  /** why this one: "GYMRL_PYTHON", "option", "/usr/bin/python3" or "PATH" */
  source: string;
}

function probe(python: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(python, ["-c", "import torch; print(torch.__version__)"], { timeout: 120_000 }, (err, stdout) => {
      resolve(err ? null : stdout.trim().split("\n").pop() || null);
    });
  });
}

const found = new Map<string, Promise<TorchPython>>();

/** The first interpreter of [explicit | GYMRL_PYTHON, /usr/bin/python3, python3] that imports torch. */
export function findTorchPython(explicit?: string): Promise<TorchPython> {
  const key = explicit ?? process.env.GYMRL_PYTHON ?? "";
  let p = found.get(key);
  if (!p) {
    p = (async () => {
      const candidates: [string, string][] = explicit
        ? [[explicit, "option"]]
        : process.env.GYMRL_PYTHON
          ? [[process.env.GYMRL_PYTHON, "GYMRL_PYTHON"]]
          : [
              ["/usr/bin/python3", "/usr/bin/python3"],
              ["python3", "PATH"],
            ];
      for (const [python, source] of candidates) {
        const v = await probe(python);
        if (v) return { python, torchVersion: v, source };
      }
      throw new Error(
        `no Python interpreter that imports torch: tried ${candidates.map(([p]) => p).join(", ")}. ` +
          "Install it (Debian: apt-get install python3-torch) or set GYMRL_PYTHON to an interpreter that has torch.",
      );
    })();
    p.catch(() => found.delete(key));
    found.set(key, p);
  }
  return p;
}

// ------------------------------------------------------------------------------------------------
// the ranks

/** A bounded buffer of a process's last lines. */
export class RingBuffer {
  private readonly lines: string[] = [];
  constructor(readonly size: number) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.shift();
  }
  tail(n = this.size): string[] {
    return this.lines.slice(-n);
  }
}

export interface ProcExit {
  /** the rank, or -1 for the torchrun agent (whose children are the ranks) */
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class TorchWorkerError extends Error {
  override readonly name = "TorchWorkerError";
  constructor(
    message: string,
    /** the rank the failure is attributed to, when known */
    readonly rank: number | null,
  ) {
    super(message);
  }
}

interface Proc {
  rank: number;
  child: ChildProcess;
  exit: ProcExit | null;
  exited: Promise<ProcExit>;
}

/** The running ranks of one worker: their processes, logs, and the first unexpected exit. */
export class RankGroup {
  readonly procs: Proc[] = [];
  readonly logs = new Map<number, RingBuffer>();
  /** rejects with a TorchWorkerError at the first exit that close() did not ask for */
  readonly died: Promise<never>;
  closing = false;
  private rejectDied!: (e: TorchWorkerError) => void;
  firstDeath: TorchWorkerError | null = null;

  constructor(
    readonly worldSize: number,
    readonly logLines: number,
    private readonly onLog?: (rank: number, line: string) => void,
  ) {
    this.died = new Promise<never>((_, reject) => (this.rejectDied = reject));
    this.died.catch(() => {}); // observed through calls; never an unhandled rejection
  }

  log(rank: number): RingBuffer {
    let r = this.logs.get(rank);
    if (!r) this.logs.set(rank, (r = new RingBuffer(this.logLines)));
    return r;
  }

  /** Adds a process; `rank` -1 is torchrun, whose lines are attributed by their rank prefix. */
  add(rank: number, child: ChildProcess): void {
    const p: Proc = { rank, child, exit: null, exited: null as unknown as Promise<ProcExit> };
    p.exited = new Promise<ProcExit>((resolve) => {
      child.on("exit", (code, signal) => {
        p.exit = { rank, code, signal };
        resolve(p.exit);
        if (!this.closing) this.fail(p.exit);
      });
      child.on("error", (err) => {
        p.exit = { rank, code: null, signal: null };
        this.log(rank).push(`failed to start: ${err.message}`);
        resolve(p.exit);
        if (!this.closing) this.fail(p.exit);
      });
    });
    this.procs.push(p);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      let buf = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          this.line(rank, buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      stream.on("end", () => buf && this.line(rank, buf));
    }
  }

  readyLine: ((info: ReadyInfo) => void) | null = null;

  private line(rank: number, line: string): void {
    if (line.startsWith(READY)) {
      this.readyLine?.(JSON.parse(line.slice(READY.length)) as ReadyInfo);
      return;
    }
    const m = /\[gymrl_torch rank (\d+)\]/.exec(line);
    const r = m ? Number(m[1]) : rank;
    this.log(r).push(line);
    this.onLog?.(r, line);
  }

  /** Last lines of a rank (or of all, when rank is null), formatted for an error message. */
  lastLines(rank: number | null, n = 15): string {
    const ranks = rank === null ? [...this.logs.keys()].sort((a, b) => a - b) : [rank];
    const out: string[] = [];
    for (const r of ranks) {
      const lines = this.logs.get(r)?.tail(n) ?? [];
      out.push(`--- ${r < 0 ? "launcher" : `rank ${r}`}: last ${lines.length} lines ---`, ...lines);
    }
    return out.join("\n");
  }

  describeExit(e: ProcExit): string {
    const who = e.rank < 0 ? `torchrun (ranks 0..${this.worldSize - 1})` : `rank ${e.rank}`;
    const how = e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
    return `torch worker ${who} ${how}`;
  }

  private fail(e: ProcExit): void {
    if (this.firstDeath) return;
    // the rank a torchrun exit is about: the last rank that logged an error, else unknown
    const rank = e.rank >= 0 ? e.rank : this.rankWithError();
    const msg = `${this.describeExit(e)}\n${this.lastLines(rank ?? null)}`;
    this.firstDeath = new TorchWorkerError(msg, rank);
    this.rejectDied(this.firstDeath);
    // the others cannot finish a collective without it: stop them
    this.killAll("SIGTERM");
  }

  private rankWithError(): number | null {
    for (const [r, buf] of this.logs) if (r >= 0 && buf.tail().some((l) => /Error|Traceback/.test(l))) return r;
    return null;
  }

  killAll(signal: NodeJS.Signals): void {
    for (const p of this.procs) {
      if (p.exit) continue;
      try {
        // torchrun runs in its own process group: signal the group, so its ranks go too
        if (p.rank < 0 && p.child.pid) process.kill(-p.child.pid, signal);
        else p.child.kill(signal);
      } catch {
        /* already gone */
      }
    }
  }

  /** Resolves when every process has exited; SIGKILLs what is left after graceS. */
  async waitAll(graceS: number): Promise<void> {
    const all = Promise.all(this.procs.map((p) => p.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), graceS * 1000)));
    const r = await Promise.race([all, late]);
    clearTimeout(timer);
    if (r === "late") {
      this.killAll("SIGKILL");
      await all;
    }
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function workerArgs(o: TorchLaunchOptions, threads: number): string[] {
  const a = ["--checkpoint", o.checkpoint, "--threads", String(threads)];
  if (o.restoreOptimizer) a.push("--restore-optimizer");
  if (o.adamw) a.push("--adamw", JSON.stringify(o.adamw));
  if (o.microBatchTokens) a.push("--micro-batch-tokens", String(o.microBatchTokens));
  if (o.temperature !== undefined) a.push("--temperature", String(o.temperature));
  if (o.dtype) a.push("--dtype", o.dtype);
  if (o.strategy) a.push("--strategy", o.strategy);
  return a;
}

/** Starts the ranks and waits for rank 0's ready line; rejects with the failing rank's last lines. */
export async function launchRanks(o: TorchLaunchOptions): Promise<{ group: RankGroup; ready: ReadyInfo; python: TorchPython }> {
  const py = await findTorchPython(o.python);
  const nproc = o.nprocPerNode ?? 1;
  const nnodes = o.nnodes ?? 1;
  const nodeRank = o.nodeRank ?? 0;
  const world = nproc * nnodes;
  if (nnodes > 1 && !o.rdzvEndpoint) throw new Error("torch worker: nnodes > 1 needs rdzvEndpoint (host:port of node 0)");
  if (nodeRank !== 0) throw new Error("torch worker: gymrl runs on node 0 (rank 0 serves the control API); start other nodes with the worker command (python/README.md)");
  const threads = o.threadsPerRank ?? Math.max(1, Math.floor(cpus().length / nproc));
  const group = new RankGroup(world, o.logLines ?? 40, o.onLog);
  const env = {
    ...process.env,
    PYTHONPATH: [PYTHON_PACKAGE_ROOT, process.env.PYTHONPATH].filter(Boolean).join(":"),
    PYTHONUNBUFFERED: "1",
    OMP_NUM_THREADS: String(threads),
  };
  const args = workerArgs(o, threads);
  const ready = new Promise<ReadyInfo>((resolve) => (group.readyLine = resolve));
  if ((o.launcher ?? "spawn") === "spawn") {
    const [addr, port] = o.rdzvEndpoint ? splitHostPort(o.rdzvEndpoint) : ["127.0.0.1", await freePort()];
    for (let local = 0; local < nproc; local++) {
      const rank = nodeRank * nproc + local;
      const child = spawn(py.python, ["-m", "gymrl_torch", ...args], {
        env: {
          ...env,
          MASTER_ADDR: addr,
          MASTER_PORT: String(port),
          WORLD_SIZE: String(world),
          RANK: String(rank),
          LOCAL_RANK: String(local),
          LOCAL_WORLD_SIZE: String(nproc),
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      group.add(rank, child);
    }
  } else {
    const tr = ["-m", "torch.distributed.run", "--nproc_per_node", String(nproc)];
    if (nnodes > 1) tr.push("--nnodes", String(nnodes), "--node_rank", String(nodeRank), "--rdzv_backend", "c10d", "--rdzv_endpoint", o.rdzvEndpoint!);
    else tr.push("--master_addr", "127.0.0.1", "--master_port", String(await freePort()));
    const child = spawn(py.python, [...tr, "-m", "gymrl_torch", ...args], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    group.add(-1, child);
  }
  const timeoutS = o.startTimeoutS ?? 180;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TorchWorkerError(`torch worker: no ready line from rank 0 within ${timeoutS}s\n${group.lastLines(null)}`, null)), timeoutS * 1000);
  });
  try {
    const info = await Promise.race([ready, group.died, late]);
    return { group, ready: info, python: py };
  } catch (e) {
    group.closing = true;
    group.killAll("SIGKILL");
    await group.waitAll(5);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(":");
  const port = Number(s.slice(i + 1));
  if (i < 0 || !Number.isInteger(port)) throw new Error(`rdzvEndpoint must be host:port, got ${s}`);
  return [s.slice(0, i), port];
}
