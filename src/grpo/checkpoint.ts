/**
 * The GRPO run's checkpoints: RUN/checkpoints/step_NNNNNN/ holds `policy/` (the model, AdamW moments
 * and step, HF layout: model/checkpoint.ts) and `loop_state.json` (step, data position, RNG seed,
 * policy version, validation history). A checkpoint is written whole into a temporary sibling and
 * renamed into place; `latest` (a one-line file, itself replaced by rename) names the newest, so a
 * crash at any instant leaves the previous checkpoint intact and `latest` pointing at a whole one.
 *
 * Test hook: GYMRL_CRASH_AT=<point>:<step> SIGKILLs this process at a named point of that step
 * (`after_step`: metrics written, checkpoint not started; `mid_checkpoint`: policy files written,
 * checkpoint not yet renamed). Only the kill-and-resume test sets it.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
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

export function crashPoint(point: "after_step" | "mid_checkpoint", step: number): void {
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

/** Writes checkpoint `step` and points `latest` at it; keeps the newest `keep` checkpoints. */
export async function saveRunCheckpoint(runDir: string, trainer: PolicyTrainer, state: LoopState, keep: number): Promise<string> {
  const root = join(runDir, "checkpoints");
  mkdirSync(root, { recursive: true });
  const name = stepName(state.step);
  const final = join(root, name);
  const tmp = join(root, `.${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  await trainer.save(join(tmp, "policy"), { step: state.optimizerSteps, grpo_step: state.step });
  crashPoint("mid_checkpoint", state.step);
  writeSynced(join(tmp, "loop_state.json"), JSON.stringify(state, null, 2) + "\n");
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  writeSynced(join(root, ".latest.tmp"), name + "\n");
  renameSync(join(root, ".latest.tmp"), join(root, "latest"));
  // prune: the newest `keep` whole checkpoints stay
  const all = readdirSync(root).filter((d) => /^step_\d+$/.test(d)).sort();
  for (const d of all.slice(0, Math.max(0, all.length - keep))) rmSync(join(root, d), { recursive: true, force: true });
  return final;
}

export interface FoundCheckpoint {
  dir: string;
  policyDir: string;
  state: LoopState;
}

/** The checkpoint `latest` names, or null when the run has none. Leftover temporaries are removed. */
export function findLatestCheckpoint(runDir: string): FoundCheckpoint | null {
  const root = join(runDir, "checkpoints");
  if (!existsSync(root)) return null;
  for (const d of readdirSync(root)) if (d.startsWith(".")) rmSync(join(root, d), { recursive: true, force: true });
  const latest = join(root, "latest");
  if (!existsSync(latest)) return null;
  const dir = join(root, readFileSync(latest, "utf8").trim());
  const state = JSON.parse(readFileSync(join(dir, "loop_state.json"), "utf8")) as LoopState;
  return { dir, policyDir: join(dir, "policy"), state };
}
