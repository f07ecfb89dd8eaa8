/**
 * The launcher and the client's failure paths, without torch: a stand-in "interpreter" (a Node
 * script) answers the torch probe, records the command line and environment each rank gets, and
 * then plays a rank that serves but never answers, or one that dies before it is ready.
 */
import { chmodSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { TorchTrainer } from "./client.ts";
import { findTorchPython, launchRanks, TorchWorkerError } from "./launcher.ts";
import { tmpDir } from "./testing.ts";

const dir = tmpDir("gymrl-fake-python-");
const fake = join(dir, "python");
writeFileSync(
  fake,
  `#!/usr/bin/env node
const fs = require("node:fs");
const http = require("node:http");
const argv = process.argv.slice(2);
if (argv[0] === "-c") { console.log("9.9.9"); process.exit(0); }
const rank = process.env.RANK ?? "torchrun";
fs.writeFileSync(process.env.FAKE_DIR + "/rank-" + rank + ".json", JSON.stringify({ argv, env: {
  RANK: process.env.RANK, WORLD_SIZE: process.env.WORLD_SIZE, LOCAL_RANK: process.env.LOCAL_RANK,
  MASTER_ADDR: process.env.MASTER_ADDR, MASTER_PORT: process.env.MASTER_PORT, PYTHONPATH: process.env.PYTHONPATH,
  OMP_NUM_THREADS: process.env.OMP_NUM_THREADS } }));
console.error("[gymrl_torch rank " + (process.env.RANK ?? "0") + "] INFO starting");
if (process.env.FAKE_MODE === "die" && rank === "1") { console.error("[gymrl_torch rank 1] ERROR Traceback: out of memory"); process.exit(2); }
if (rank === "0" || rank === "torchrun") {
  const srv = http.createServer(() => {}); // accepts, never answers: a hung rank 0
  srv.listen(0, "127.0.0.1", () => console.log("GYMRL_TORCH_READY " + JSON.stringify({ port: srv.address().port, pid: process.pid,
    python: "fake", world_size: 2, num_params: 7, description: "fake", device: "cpu", backend: "gloo", torch: "9.9.9" })));
}
setInterval(() => {}, 1000);
`,
);
chmodSync(fake, 0o755);
process.env.FAKE_DIR = dir;

const read = (rank: string) => JSON.parse(readFileSync(join(dir, `rank-${rank}.json`), "utf8")) as { argv: string[]; env: Record<string, string> };

describe("torch worker launcher", () => {
  test("an explicit interpreter is probed; a missing one is a clear error", async () => {
    expect(await findTorchPython(fake)).toEqual({ python: fake, torchVersion: "9.9.9", source: "option" });
    await expect(findTorchPython(join(dir, "nope"))).rejects.toThrow(/no Python interpreter that imports torch: tried .*nope.*GYMRL_PYTHON/);
  });

  test("spawn: N ranks with the torchrun environment; a hung call fails after its timeout", async () => {
    process.env.FAKE_MODE = "hang";
    const t = await TorchTrainer.start({ checkpoint: "/ck", python: fake, nprocPerNode: 2, threadsPerRank: 1, temperature: 0.7, callTimeoutS: 1 });
    try {
      expect(t.numParams).toBe(7);
      const t0 = performance.now();
      const err = await t.logprobs({ tokens: Int32Array.from([1, 2]), seqOffsets: Int32Array.from([0, 2]) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TorchWorkerError);
      expect((err as Error).message).toMatch(/POST \/forward took longer than 1s[\s\S]*rank 1: last \d+ lines[\s\S]*starting/);
      expect(performance.now() - t0).toBeLessThan(10_000);
      // (rank 1 may write its record after rank 0 is ready: read them after the call above)
      for (const r of ["0", "1"]) {
        const { argv, env } = read(r);
        expect(argv.slice(0, 4)).toEqual(["-m", "gymrl_torch", "--checkpoint", "/ck"]);
        expect(argv.join(" ")).toContain("--temperature 0.7");
        expect(env).toMatchObject({ RANK: r, LOCAL_RANK: r, WORLD_SIZE: "2", MASTER_ADDR: "127.0.0.1", OMP_NUM_THREADS: "1" });
        expect(Number(env.MASTER_PORT)).toBeGreaterThan(0);
        expect(env.PYTHONPATH.split(":")[0]).toMatch(/\/python$/);
      }
    } finally {
      await t.close(); // the stand-ins ignore /shutdown: close() must still end them
    }
    expect(t.pids().size).toBe(2);
  });

  test("torchrun: one agent process with torchrun's arguments", async () => {
    process.env.FAKE_MODE = "hang";
    const { group, ready } = await launchRanks({ checkpoint: "/ck", python: fake, launcher: "torchrun", nprocPerNode: 4 });
    group.closing = true;
    group.killAll("SIGTERM");
    await group.waitAll(5);
    expect(ready.world_size).toBe(2);
    const { argv } = read("torchrun");
    expect(argv.slice(0, 4)).toEqual(["-m", "torch.distributed.run", "--nproc_per_node", "4"]);
    expect(argv).toContain("--master_port");
    expect(argv.slice(argv.indexOf("-m", 1))).toEqual(expect.arrayContaining(["-m", "gymrl_torch", "--checkpoint", "/ck"]));
  });

  test("a rank that dies before rank 0 is ready fails the start with its rank and last lines", async () => {
    process.env.FAKE_MODE = "die";
    for (const f of readdirSync(dir)) if (f.startsWith("rank-")) writeFileSync(join(dir, f), "{}");
    const err = await launchRanks({ checkpoint: "/ck", python: fake, nprocPerNode: 2 }).catch((e: unknown) => e);
    // rank 0 of the stand-in is ready at once, so either the ready line or the death wins the race;
    // in both cases nothing is left running and a death, when seen, names rank 1 with its last words
    if (err instanceof TorchWorkerError) {
      expect(err.rank).toBe(1);
      expect(err.message).toMatch(/rank 1 exited with code 2[\s\S]*out of memory/);
    } else {
      const { group } = err as Awaited<ReturnType<typeof launchRanks>>;
      await expect(group.died).rejects.toThrow(/rank 1 exited with code 2[\s\S]*out of memory/);
      await group.waitAll(5);
    }
  });
});
