/**
 * The GRPO run's checkpoints: RUN/checkpoints/step_NNNNNN/ holds `policy/` (the model, AdamW moments
 * and step, HF layout: model/checkpoint.ts) and `loop_state.json` (step, data position, RNG seed,
 * policy version, validation history). A checkpoint is written whole into a temporary sibling and
 * renamed into place; `latest` (a one-line file, itself replaced by rename) names the newest, so a
 * crash at any instant leaves the previous checkpoint intact and `latest` pointing at a whole one.
 *
 * A write that fails (a full disk, a read-only file system) removes its temporary and throws a
 * CheckpointWriteError naming the checkpoint, the cause and the checkpoint that stays the latest.
 * Resuming removes temporaries and any step directory newer than `latest` (renamed into place but
 * never named by `latest`: the resumed run redoes those steps).
 *
 * Test hook: GYMRL_CRASH_AT=<point>:<step> SIGKILLs this process at a named point of that step
 * (`after_step`: metrics written, checkpoint not started; `mid_checkpoint`: policy files written,
 * checkpoint not yet renamed; `before_latest`: step directory in place, `latest` not yet
 * updated). Only the kill-and-resume tests set it.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { fsyncDir } from "../model/checkpoint.ts";
import { join } from "node:path";
import type { DataPosition } from "./data.ts";
import type { PolicyTrainer } from "./trainer.ts";

export interface LoopState {
  /** GRPO steps completed. */
  step: number;
  /** where the next step's prompts start. */
  data: DataPosition;
  /**
   * the run's seed: the data order of epoch e derives from it and e, every rollout's sampling seed
   * from it and (step, generation batch, prompt, generation) (loop.ts rolloutSeed), so the
   * engine keeps no sampling state a checkpoint would need.
   */
  seed: number;
  /** the engine's policy version after this step's refit. */
  policyVersion: number;
  /** optimizer steps taken (the LR schedule's position). */
  optimizerSteps: number;
  /** seconds spent in earlier sessions of this run (for the total). */
  elapsedS: number;
}

export type CrashPoint = "after_step" | "mid_checkpoint" | "before_latest";

export function crashPoint(point: CrashPoint, step: number): void {
  const want = process.env.GYMRL_CRASH_AT;
  if (want && want === `${point}:${step}`) process.kill(process.pid, "SIGKILL");
}

function writeSynced(path: string, text: string): void {
  const fd = openSync(path, "w");
  try {
    const b = Buffer.from(text, "utf8");
    let off = 0;
    while (off < b.length) off += writeSync(fd, b, off, b.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const stepName = (step: number) => `step_${String(step).padStart(6, "0")}`;
const STEP_DIR = /^step_(\d+)$/;

/** A checkpoint that could not be written; the one `latest` names (if any) is untouched. */
export class CheckpointWriteError extends Error {
  constructor(
    readonly dir: string,
    readonly latest: string | null,
    cause: Error,
  ) {
    // node's fs errors already start with their code ("ENOSPC: no space left on device, write")
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code && !cause.message.startsWith(code) ? `${code}: ${cause.message}` : cause.message;
    super(
      `checkpoint ${dir} could not be written (${why}); ` +
        (latest ? `the last complete checkpoint is still ${latest} (resume from it with --resume)` : "the run has no complete checkpoint yet"),
      { cause },
    );
    this.name = "CheckpointWriteError";
  }
}


function readLatest(root: string): string | null {
  const p = join(root, "latest");
  return existsSync(p) ? readFileSync(p, "utf8").trim() : null;
}

/** Writes checkpoint `step` and points `latest` at it; keeps the newest `keep` checkpoints. */
export async function saveRunCheckpoint(runDir: string, trainer: PolicyTrainer, state: LoopState, keep: number): Promise<string> {
  const root = join(runDir, "checkpoints");
  mkdirSync(root, { recursive: true });
  const name = stepName(state.step);
  const final = join(root, name);
  const tmp = join(root, `.${name}.tmp-${process.pid}`);
  const latestTmp = join(root, ".latest.tmp");
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    await trainer.save(join(tmp, "policy"), { step: state.optimizerSteps, grpo_step: state.step });
    crashPoint("mid_checkpoint", state.step);
    writeSynced(join(tmp, "loop_state.json"), JSON.stringify(state, null, 2) + "\n");
    fsyncDir(tmp);
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    fsyncDir(root);
    crashPoint("before_latest", state.step);
    writeSynced(latestTmp, name + "\n");
    renameSync(latestTmp, join(root, "latest"));
    fsyncDir(root);
  } catch (e) {
    // a full disk keeps no half-written copy; `latest` still names the previous whole checkpoint
    rmSync(tmp, { recursive: true, force: true });
    rmSync(latestTmp, { force: true });
    const latest = readLatest(root);
    if (latest !== name) rmSync(final, { recursive: true, force: true });
    throw new CheckpointWriteError(final, latest === null ? null : join(root, latest), e as Error);
  }
  // prune: the newest `keep` whole checkpoints stay
  const all = readdirSync(root).filter((d) => STEP_DIR.test(d)).sort();
  for (const d of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(root, d), { recursive: true, force: true });
  return final;
}

export interface FoundCheckpoint {
  dir: string;
  policyDir: string;
  state: LoopState;
}

/**
 * The checkpoint `latest` names, or null when the run has none. Leftover temporaries are removed,
 * and so are step directories newer than `latest` (written, never committed): the resumed run
 * redoes those steps, and pruning must not count them.
 */
export function findLatestCheckpoint(runDir: string): FoundCheckpoint | null {
  const root = join(runDir, "checkpoints");
  if (!existsSync(root)) return null;
  for (const d of readdirSync(root)) if (d.startsWith(".")) rmSync(join(root, d), { recursive: true, force: true });
  const name = readLatest(root);
  const latestStep = name === null ? -1 : Number(STEP_DIR.exec(name)?.[1] ?? NaN);
  if (Number.isNaN(latestStep)) throw new Error(`${join(root, "latest")}: names '${name}', not a step_NNNNNN checkpoint`);
  for (const d of readdirSync(root)) {
    const m = STEP_DIR.exec(d);
    if (m && Number(m[1]) > latestStep) rmSync(join(root, d), { recursive: true, force: true });
  }
  if (name === null) return null;
  const dir = join(root, name);
  const statePath = join(dir, "loop_state.json");
  if (!existsSync(statePath)) throw new Error(`${join(root, "latest")} names ${name}, but ${statePath} is missing`);
  const state = JSON.parse(readFileSync(statePath, "utf8")) as LoopState;
  return { dir, policyDir: join(dir, "policy"), state };
}
