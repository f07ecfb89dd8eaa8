/**
 * A child process for run-lock.test.ts (run with `node --import tsx`). Modes:
 *   race DIR ROUNDS: for each round r, spin until DIR/go.r exists, then try to lock DIR/r; print
 *     {"round":r,"got":bool,"owner":pid?}. Locks won are held until the process exits.
 *   hold DIR: lock DIR, print {"locked":true}, then wait to be killed.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { lockRunDir, RunDirLockedError } from "../../src/grpo/run-lock.ts";

const [mode, dir, roundsArg] = process.argv.slice(2);
const say = (x: unknown) => process.stdout.write(JSON.stringify(x) + "\n");

if (mode === "race") {
  say({ ready: true });
  const deadline = Date.now() + 60_000;
  for (let r = 0; r < Number(roundsArg); r++) {
    const go = join(dir, `go.${r}`);
    // spin, not poll: both children must leave the barrier within microseconds of each other
    while (!existsSync(go)) if (Date.now() > deadline) process.exit(2);
    try {
      lockRunDir(join(dir, String(r)));
      say({ round: r, got: true });
    } catch (e) {
      if (!(e instanceof RunDirLockedError)) throw e;
      say({ round: r, got: false, owner: e.pid });
    }
  }
  setTimeout(() => {}, 60_000); // hold the locks won until the parent ends us
} else if (mode === "hold") {
  lockRunDir(dir);
  say({ locked: true });
  setTimeout(() => {}, 60_000);
}
