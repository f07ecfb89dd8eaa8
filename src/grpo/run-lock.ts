/**
 * One run per directory: RUN/.lock names the owning process ("<pid> <token>"). Taking it is atomic:
 * the content is written to a private file first and hard-linked into place, and link(2) fails if
 * the name exists, so of two runs starting at once exactly one wins and nobody ever reads a
 * half-written lock. A lock whose process is gone (killed, crashed) is taken over, and the caller
 * is told so; two runs finding the same stale lock still produce one owner (see takeOverStale).
 */
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";

/** Lock files this process holds: a lock naming our own pid that is not here is a dead process's. */
const held = new Set<string>();

export class RunDirLockedError extends Error {
  constructor(
    readonly runDir: string,
    readonly pid: number,
  ) {
    super(`${runDir} is in use by process ${pid} (a run already writes there; remove ${join(runDir, ".lock")} if that process is not gymrl)`);
    this.name = "RunDirLockedError";
  }
}

/** Takes RUN/.lock or throws RunDirLockedError; returns the release (idempotent). */
export function lockRunDir(runDir: string, log: (line: string) => void = () => {}): () => void {
  const path = join(runDir, ".lock");
  const content = `${process.pid} ${randomBytes(8).toString("hex")}\n`;
  const mine = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(mine, content);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(mine, path);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const owner = readOwner(path);
      if (owner === undefined) continue; // released between our link and our read: try again
      if (isAlive(owner, path)) throw new RunDirLockedError(runDir, owner);
      if (takeOverStale(path, owner)) log(`${runDir}: taking over the lock of process ${owner}, which is no longer running`);
      if (attempt >= 20) throw new Error(`${path}: could not take the lock (it kept changing hands)`);
    }
  } finally {
    rmSync(mine, { force: true });
  }
  held.add(path);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.delete(path);
    // only our own lock: one taken over from us (it cannot be while we live) stays
    if (readText(path) === content) rmSync(path, { force: true });
  };
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** The owner's pid; undefined when the lock is gone. Older runs wrote the pid alone. */
function readOwner(path: string): number | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  const pid = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${path} is not a gymrl run lock (content ${JSON.stringify(text.slice(0, 80))}); remove it if no run uses this directory`);
  return pid;
}

function isAlive(pid: number, path: string): boolean {
  if (pid === process.pid) return held.has(path);
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, another user's
  }
}

/**
 * Removes a lock of the dead process `pid`, unless another run took the lock meanwhile. The lock is
 * renamed away first (atomic; of two takers only one can move it) and then read: if it names `pid`
 * it was the stale one and is deleted; if not, a live run had just taken the lock and it is put
 * back. Returns whether a stale lock was removed.
 */
function takeOverStale(path: string, pid: number): boolean {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false; // another taker moved it first
    throw e;
  }
  const owner = readOwner(aside);
  if (owner === pid) {
    rmSync(aside, { force: true });
    return true;
  }
  try {
    linkSync(aside, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    // a third run took the name while it was aside: two would now think they own the directory
    throw new Error(`${path}: several runs raced for a stale lock; stop them and start one`);
  } finally {
    rmSync(aside, { force: true });
  }
  return false;
}
