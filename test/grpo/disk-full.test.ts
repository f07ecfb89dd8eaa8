/**
 * A checkpoint on a full disk. In-process: saveRunCheckpoint over a trainer whose weights file is
 * /dev/full (the kernel's own ENOSPC) keeps the previous checkpoint whole and `latest` on it, leaves
 * no temporary, and says what failed and what remains; a resume drops what `latest` does not name.
 * Then a real `gymrl train` whose run directory is a 600 KiB tmpfs (a mount namespace of its own:
 * step 1's checkpoint fits, step 2's does not) fails with that error, and, given room, `--resume`
 * continues from step 1 with exactly the next prompts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { CheckpointWriteError, findLatestCheckpoint, saveRunCheckpoint, type LoopState } from "../../src/grpo/checkpoint.ts";
import { loadTrainPool, PromptStream } from "../../src/grpo/data.ts";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import { parseRecipe } from "../../src/grpo/recipe.ts";
import type { PolicyTrainer } from "../../src/grpo/trainer.ts";
import { loadCheckpoint } from "../../src/model/checkpoint.ts";
import { referenceKernels } from "../../src/tensor/index.ts";
import { REPO, smallTrainFile, tinyPolicyCheckpoint, tinyRecipe, writeRecipe } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-grpo-diskfull-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const stateAt = (step: number): LoopState => ({ step, data: { epoch: 0, cursor: 3 * step }, seed: 3, policyVersion: step, optimizerSteps: step, elapsedS: 1 });

/** A trainer that saves a config and a weights file; with `full`, the weights file is /dev/full. */
function fakeTrainer(opts: { full: boolean }): PolicyTrainer {
  return {
    save: async (dir: string) => {
      mkdirSync(dir);
      writeFileSync(join(dir, "config.json"), "{}\n");
      if (opts.full) symlinkSync("/dev/full", join(dir, "model.safetensors"));
      writeFileSync(join(dir, "model.safetensors"), Buffer.alloc(64 << 10, 7));
    },
  } as unknown as PolicyTrainer;
}

const tree = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
      else out[`${rel}${e.name}`] = readFileSync(join(d, e.name)).toString("base64");
    }
  };
  walk(dir, "");
  return out;
};

describe("saveRunCheckpoint on a full disk", () => {
  test("ENOSPC: the previous checkpoint stays whole and latest, no temporary is left, the error names both", async () => {
    const run = join(tmp, "unit");
    await saveRunCheckpoint(run, fakeTrainer({ full: false }), stateAt(1), 2);
    const before = tree(join(run, "checkpoints"));

    const err = await saveRunCheckpoint(run, fakeTrainer({ full: true }), stateAt(2), 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointWriteError);
    expect((err as Error).message).toMatch(/checkpoint .*step_000002 could not be written \(ENOSPC: no space left on device/);
    expect((err as Error).message).toContain(`the last complete checkpoint is still ${join(run, "checkpoints", "step_000001")}`);
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe("ENOSPC");
    expect(tree(join(run, "checkpoints"))).toEqual(before); // byte for byte, and nothing else
    expect(findLatestCheckpoint(run)?.state).toEqual(stateAt(1));

    // with room again, the same step is written and becomes latest
    await saveRunCheckpoint(run, fakeTrainer({ full: false }), stateAt(2), 2);
    expect(findLatestCheckpoint(run)?.state).toEqual(stateAt(2));
  });

  test("the first checkpoint failing says the run has none; resume finds none", async () => {
    const run = join(tmp, "first");
    const err = await saveRunCheckpoint(run, fakeTrainer({ full: true }), stateAt(1), 2).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/ENOSPC.*the run has no complete checkpoint yet/);
    expect(readdirSync(join(run, "checkpoints"))).toEqual([]);
    expect(findLatestCheckpoint(run)).toBeNull();
  });

  test("a resume removes temporaries and step directories `latest` never named; a dangling `latest` is an error naming it", async () => {
    const run = join(tmp, "stale");
    await saveRunCheckpoint(run, fakeTrainer({ full: false }), stateAt(1), 5);
    const root = join(run, "checkpoints");
    mkdirSync(join(root, "step_000004")); // renamed into place, killed before `latest` moved
    writeFileSync(join(root, "step_000004", "loop_state.json"), JSON.stringify(stateAt(4)));
    mkdirSync(join(root, ".step_000002.tmp-123")); // killed mid-write
    expect(findLatestCheckpoint(run)?.state.step).toBe(1);
    expect(readdirSync(root).sort()).toEqual(["latest", "step_000001"]);

    writeFileSync(join(root, "latest"), "step_000009\n");
    expect(() => findLatestCheckpoint(run)).toThrow(`${join(root, "latest")} names step_000009, but ${join(root, "step_000009", "loop_state.json")} is missing`);
  });
});

/** A mount namespace where this process may mount a tmpfs: as root, or as a user mapped to root. */
function unshareArgs(): string[] | null {
  const probe = mkdtempSync(join(tmpdir(), "gymrl-mount-probe-"));
  try {
    for (const args of [["--mount", "--propagation", "private"], ["--user", "--map-root-user", "--mount", "--propagation", "private"]]) {
      if (spawnSync("unshare", [...args, "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]).status === 0) return args;
    }
    return null;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const UNSHARE = unshareArgs();

// Where no mount namespace can be made (no unshare, or a sandbox that forbids it) only the
// in-process tests above run; vitest reports this one as skipped.
test.skipIf(UNSHARE === null)("gymrl train on a full tmpfs: ENOSPC at step 2's checkpoint, step 1 intact; --resume with room continues from step 1", { timeout: 120_000 }, async () => {
  const init = tinyPolicyCheckpoint(join(tmp, "init"));
  const trainFile = smallTrainFile(tmp);
  const run = join(tmp, "tmpfs-run");
  const out = join(tmp, "out");
  mkdirSync(run);
  mkdirSync(join(out, "failed"), { recursive: true });
  mkdirSync(join(out, "resumed"), { recursive: true });
  const recipeObj = tinyRecipe({ init, outDir: run, train: trainFile }) as { grpo: Record<string, unknown> };
  recipeObj.grpo.max_num_steps = 3;
  const recipe = writeRecipe(join(tmp, "r.yaml"), recipeObj);
  const gymrl = `"${process.execPath}" "${join(REPO, "bin/gymrl.js")}" train --config "${recipe}"`;
  // The tmpfs lives as long as the namespace: each run's directory is copied out for the asserts.
  const script = [
    `mount -t tmpfs -o size=600k tmpfs "${run}"`,
    `${gymrl} > "${out}/failed.log" 2>&1; echo $? > "${out}/failed.rc"`,
    `cp -a "${run}/." "${out}/failed/"`,
    `mount -o remount,size=16m "${run}"`,
    `${gymrl} --resume > "${out}/resumed.log" 2>&1; echo $? > "${out}/resumed.rc"`,
    `cp -a "${run}/." "${out}/resumed/"`,
  ].join("\n");
  const r = spawnSync("unshare", [...UNSHARE!, "sh", "-c", script], { cwd: REPO, encoding: "utf8", timeout: 110_000 });
  expect(r.status, r.stderr).toBe(0);
  const failedLog = readFileSync(join(out, "failed.log"), "utf8");
  expect(readFileSync(join(out, "failed.rc"), "utf8").trim(), failedLog).not.toBe("0");
  expect(failedLog).toMatch(/checkpoint \S*step_000002 could not be written \(ENOSPC: no space left on device/);
  expect(failedLog).toContain(`the last complete checkpoint is still ${join(run, "checkpoints", "step_000001")}`);

  // the failed run's directory: step 1's checkpoint whole and latest, no temporaries, no step 2 directory
  const failed = join(out, "failed");
  expect(readdirSync(join(failed, "checkpoints")).sort()).toEqual(["latest", "step_000001"]);
  expect(readFileSync(join(failed, "checkpoints", "latest"), "utf8").trim()).toBe("step_000001");
  const loaded = loadCheckpoint(join(failed, "checkpoints", "step_000001", "policy"), { kernels: referenceKernels });
  expect(loaded.optimizer?.t).toBe(1);
  expect(JSON.parse(readFileSync(join(failed, "checkpoints", "step_000001", "loop_state.json"), "utf8"))).toMatchObject({ step: 1, optimizerSteps: 1 });
  // step 2's metrics were logged before its checkpoint failed: the resume cuts them back
  expect(readJsonl<{ step: number }>(join(failed, "metrics.jsonl")).map((m) => m.step)).toEqual([1, 2]);

  const resumedLog = readFileSync(join(out, "resumed.log"), "utf8");
  expect(readFileSync(join(out, "resumed.rc"), "utf8").trim(), resumedLog).toBe("0");
  expect(resumedLog).toContain("resume: step 1 ");
  const resumed = join(out, "resumed");
  const parsed = parseRecipe(recipeObj);
  const stream = new PromptStream(await loadTrainPool(parsed.environments), parsed.run.seed, parsed.grpo.max_num_epochs);
  expect(readJsonl(join(resumed, "prompts.jsonl"))).toEqual([1, 2, 3].map((step) => ({ step, prompts: stream.take(3).map((p) => p.id) })));
  expect(readJsonl<{ step: number }>(join(resumed, "metrics.jsonl")).map((m) => m.step)).toEqual([1, 2, 3]);
  expect(readFileSync(join(resumed, "checkpoints", "latest"), "utf8").trim()).toBe("step_000003");
  expect(existsSync(join(resumed, "checkpoints", "step_000003", "policy", "optimizer.safetensors"))).toBe(true);
});
