/**
 * A trainer and an engine in separate memory: the embedded trainer on its own copy of the weights
 * beside a remote engine pool, or the PyTorch worker beside any engine. Refit goes through files
 * (refit-through-files.ts).
 */
import { join, resolve } from "node:path";
import type { UpdatableGenerationEngine } from "../../engine/index.ts";
import type { Recipe } from "../recipe.ts";
import type { PolicyTrainer } from "../trainer.ts";
import { refitThroughFiles } from "./refit-through-files.ts";
import type { ChatFormat } from "../../tokenizer/index.ts";
import type { PolicyBackend } from "./types.ts";

export function separateBackend(
  recipe: Recipe,
  parts: { trainer: PolicyTrainer; reference: PolicyTrainer | null; engine: UpdatableGenerationEngine; engineLabel: string; closeEngine: () => Promise<void> },
  chat: ChatFormat,
  runDir: string,
): PolicyBackend {
  const weightsDir = resolve(recipe.generation.weights_dir ?? join(runDir, "refit"));
  const files = refitThroughFiles(parts.trainer, parts.engine, weightsDir);
  return {
    trainer: parts.trainer,
    reference: parts.reference,
    engine: parts.engine,
    chat,
    description: `trainer ${parts.trainer.description}, engine ${parts.engineLabel}, refit through ${weightsDir}`,
    refit: () => files.refit(),
    close: async () => {
      await parts.closeEngine();
      await parts.trainer.close();
      await parts.reference?.close();
    },
  };
}
