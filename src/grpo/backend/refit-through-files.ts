/**
 * Refit for a trainer and an engine that do not share memory (the PyTorch worker, a remote vLLM /
 * SGLang pool, or both): the trainer writes its weights as an HF safetensors directory (atomically:
 * a temporary sibling renamed into place), then the engine loads that directory through its own
 * weight-update call, which bumps its policy version and drops its prefix cache. Directories are
 * versioned (`v000001`, ...) so an engine never reads a directory being rewritten; the previous one
 * is removed once the engine has moved on.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { UpdatableGenerationEngine } from "../../engine/index.ts";
import type { PolicyTrainer } from "../trainer.ts";
import type { RefitResult } from "./types.ts";

export interface FileRefitTiming {
  exportS: number;
  loadS: number;
}

export function refitThroughFiles(trainer: PolicyTrainer, engine: UpdatableGenerationEngine, weightsDir: string): {
  refit(): Promise<RefitResult>;
  /** the split of the last refit: writing the weights, and the engine loading them */
  lastTiming(): FileRefitTiming;
} {
  let n = 0;
  let previous: string | null = null;
  let timing: FileRefitTiming = { exportS: 0, loadS: 0 };
  return {
    async refit() {
      const t0 = performance.now();
      const dir = join(weightsDir, `v${String(++n).padStart(6, "0")}`);
      await trainer.exportCheckpoint(dir);
      const t1 = performance.now();
      const policyVersion = await engine.updateWeights({ kind: "checkpoint", dir });
      const t2 = performance.now();
      if (previous) rmSync(previous, { recursive: true, force: true });
      previous = dir;
      timing = { exportS: (t1 - t0) / 1000, loadS: (t2 - t1) / 1000 };
      return { policyVersion, seconds: (t2 - t0) / 1000 };
    },
    lastTiming: () => timing,
  };
}
