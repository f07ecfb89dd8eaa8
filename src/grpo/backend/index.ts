/**
 * @module grpo/backend: builds the policy backend a recipe names — trainer (`trainer.backend`:
 * embedded | torch) × engine (`generation.backend`: embedded | vllm | sglang) — from one checkpoint
 * directory and its chat format. The loop sees only the PolicyBackend interface (types.ts).
 */
import { loadCheckpoint } from "../../model/checkpoint.ts";
import { getKernels } from "../../tensor/index.ts";
import { loadQwen3Tokenizer, type Tokenizer } from "../../tokenizer/index.ts";
import type { Recipe } from "../recipe.ts";
import { colocatedBackend } from "./colocated.ts";
import type { ChatFormat, PolicyBackend } from "./types.ts";

export type { ChatFormat, PolicyBackend, RefitResult } from "./types.ts";
export { GenerationBackendSchema, TrainerBackendSchema, type GenerationBackendSpec, type TrainerBackendSpec } from "./schema.ts";

export interface BackendOptions {
  /** the checkpoint the weights come from (model.init, or a run checkpoint's policy/ on resume) */
  initDir: string;
  /** restore the optimizer state saved with the weights (resume) */
  restoreOptimizer?: boolean;
  /** the run directory (refit weights, worker logs) */
  runDir: string;
}

function stopIdsOf(tok: Tokenizer): number[] {
  const ids = new Set<number>();
  if (tok.eosTokenId !== null) ids.add(tok.eosTokenId);
  const eot = tok.addedTokens.get("<|endoftext|>"); // Qwen3's generation_config stops on it too
  if (eot !== undefined) ids.add(eot);
  return [...ids];
}

export function loadChat(_dir: string): ChatFormat {
  const tokenizer = loadQwen3Tokenizer();
  return { tokenizer, stopTokenIds: stopIdsOf(tokenizer) };
}

export async function createPolicyBackend(recipe: Recipe, opts: BackendOptions): Promise<PolicyBackend> {
  if (recipe.model.kernels !== "auto") process.env.GYMRL_KERNELS = recipe.model.kernels;
  const kernels = getKernels();
  const chat = loadChat(opts.initDir);
  const t = recipe.trainer.backend;
  const g = recipe.generation.backend;
  if (t === "embedded" && g === "embedded") {
    const ck = loadCheckpoint(opts.initDir, { kernels });
    return colocatedBackend(recipe, ck, kernels, chat, opts.restoreOptimizer ?? false);
  }
  throw new Error(`trainer.backend=${t} with generation.backend=${g} is not available yet`);
}
