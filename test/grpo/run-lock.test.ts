/**
 * The run-directory lock: one owner however the attempts interleave — twice in one process, and two
 * processes leaving a barrier together (on a free directory and on a dead process's lock) — and a
 * lock left by a killed run is taken over with a message.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { lockRunDir, RunDirLockedError } from "../../src/grpo/run-lock.ts";
import { REPO } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-run-lock-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = join(tmp, `d${n++}`);
  mkdirSync(d);
  return d;
};

/** A pid that was just used and has exited (no process has it now, barring reuse within ms). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  return r.pid!;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

/** Starts test/grpo/lock-child.ts; `lines` yields its JSON lines in order. */
function child(args: string[]): { proc: ChildProcess; next: () => Promise<Record<string, unknown>> } {
  const proc = spawn(process.execPath, ["--import", "tsx", join(REPO, "test/grpo/lock-child.ts"), ...args], { cwd: REPO, stdio: ["ignore", "pipe", "inherit"] });
  children.push(proc);
  const queue: Record<string, unknown>[] = [];
  const waiters: ((x: Record<string, unknown>) => void)[] = [];
  createInterface({ input: proc.stdout! }).on("line", (l) => {
    const x = JSON.parse(l) as Record<string, unknown>;
    const w = waiters.shift();
    if (w) w(x);
    else queue.push(x);
  });
  const next = () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise<Record<string, unknown>>((r) => waiters.push(r)));
  return { proc, next };
}

describe("lockRunDir", () => {
  test("in one process: the second attempt fails naming the owner; after release the lock is free", () => {
    const dir = freshDir();
    const release = lockRunDir(dir);
    expect(() => lockRunDir(dir)).toThrow(RunDirLockedError);
    expect(() => lockRunDir(dir)).toThrow(new RegExp(`in use by process ${process.pid}`));
    release();
    expect(existsSync(join(dir, ".lock"))).toBe(false);
    release(); // idempotent
    const again = lockRunDir(dir);
    expect(readFileSync(join(dir, ".lock"), "utf8")).toMatch(new RegExp(`^${process.pid} `));
    again();
    expect(() => lockRunDir(join(tmp, "missing"))).toThrow(/ENOENT/);
  });

  test("a dead process's lock (either format) is taken over and said so; a foreign file is refused", () => {
    for (const content of [`${deadPid()}`, `${deadPid()} abc\n`]) {
      const dir = freshDir();
      writeFileSync(join(dir, ".lock"), content);
      const lines: string[] = [];
      const release = lockRunDir(dir, (l) => lines.push(l));
      expect(lines).toEqual([`${dir}: taking over the lock of process ${content.split(" ")[0].trim()}, which is no longer running`]);
      release();
    }
    // our own pid on a lock we do not hold: an earlier process that had this pid
    const dir = freshDir();
    writeFileSync(join(dir, ".lock"), `${process.pid}\n`);
    const lines: string[] = [];
    lockRunDir(dir, (l) => lines.push(l))();
    expect(lines[0]).toMatch(/taking over/);
    writeFileSync(join(dir, ".lock"), "hello");
    expect(() => lockRunDir(dir)).toThrow(/is not a gymrl run lock/);
  });

  test("a run killed while holding the lock: the next run takes it over", async () => {
    const dir = freshDir();
    const c = child(["hold", dir]);
    expect(await c.next()).toEqual({ locked: true });
    expect(() => lockRunDir(dir)).toThrow(new RegExp(`in use by process ${c.proc.pid}`));
    const exited = new Promise((r) => c.proc.once("exit", r));
    c.proc.kill("SIGKILL");
    await exited;
    const lines: string[] = [];
    lockRunDir(dir, (l) => lines.push(l))();
    expect(lines).toEqual([`${dir}: taking over the lock of process ${c.proc.pid}, which is no longer running`]);
  });

  test("two processes leaving a barrier together: exactly one owner per round, free or stale lock", async () => {
    const rounds = 12;
    const dir = freshDir();
    for (let r = 0; r < rounds; r++) {
      mkdirSync(join(dir, String(r)));
      // odd rounds start from a dead process's lock: both children race to take it over
      if (r % 2 === 1) writeFileSync(join(dir, String(r), ".lock"), `${deadPid()}\n`);
    }
    const a = child(["race", dir, String(rounds)]);
    const b = child(["race", dir, String(rounds)]);
    expect(await a.next()).toEqual({ ready: true });
    expect(await b.next()).toEqual({ ready: true });
    for (let r = 0; r < rounds; r++) {
      writeFileSync(join(dir, `go.${r}`), "");
      const [ra, rb] = await Promise.all([a.next(), b.next()]);
      expect([ra.round, rb.round]).toEqual([r, r]);
      expect([ra.got, rb.got].filter(Boolean)).toHaveLength(1);
      const [winner, loser] = ra.got ? [a, rb] : [b, ra];
      expect(loser.owner).toBe(winner.proc.pid);
      expect(readFileSync(join(dir, String(r), ".lock"), "utf8")).toMatch(new RegExp(`^${winner.proc.pid} `));
    }
  });
});
