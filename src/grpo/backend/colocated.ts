/**
 * The embedded default: the trainer's Model and the embedded engine compute on one
 * SharedArrayBuffer. The optimizer step is the refit: it writes in place while the engine is parked
 * between two decode steps, and the engine resumes under version + 1 (no copy, no file).
 */
import { allocSharedParams, createEmbeddedEngine } from "../../engine/index.ts";
import { drainedUpdates } from "../../engine/drained-updates.ts";
import { modelSourceDir, setModelSourceDir, type LoadedCheckpoint as Checkpoint } from "../../model/checkpoint.ts";
import { Model } from "../../model/model.ts";
import type { Kernels } from "../../tensor/kernels.ts";
import type { Recipe } from "../recipe.ts";
import { EmbeddedTrainer } from "../trainer.ts";
import type { ChatFormat } from "../../tokenizer/index.ts";
import type { PolicyBackend } from "./types.ts";

/** Rollouts sampled at T are scored at T; greedy (T = 0) rollouts at 1, the argmax's own distribution. */
export const scoringTemperature = (t: number) => (t > 0 ? t : 1);

/** grpo.async_grpo with in_flight_weight_updates false: no generation may run across an update. */
export const drainsBeforeUpdates = (recipe: Recipe) => recipe.grpo.async_grpo.enabled && !recipe.grpo.async_grpo.in_flight_weight_updates;

export function adamwOf(recipe: Recipe) {
  const o = recipe.policy.optimizer;
  return { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay, gradClip: o.max_grad_norm };
}

/** A scorer on a frozen copy of the initial weights, when the recipe's KL penalty needs one. */
export function referenceScorer(recipe: Recipe, ck: Checkpoint, kernels: Kernels): EmbeddedTrainer | null {
  if (recipe.grpo.skip_reference_policy_logprobs_calculation) return null;
  return new EmbeddedTrainer({
    model: new Model(ck.model.config, { kernels, params: Float32Array.from(ck.model.params.flat) }),
    microBatchTokens: recipe.policy.train_micro_batch_tokens,
    temperature: scoringTemperature(recipe.policy.generation.temperature),
  });
}

export async function colocatedBackend(recipe: Recipe, ck: Checkpoint, kernels: Kernels, chat: ChatFormat, restoreOptimizer: boolean): Promise<PolicyBackend> {
  const shared = allocSharedParams(ck.model.numParams);
  shared.set(ck.model.params.flat);
  const model = new Model(ck.model.config, { kernels, params: shared });
  // checkpoints the run writes carry the init directory's tokenizer and template (complete HF dirs)
  const source = modelSourceDir(ck.model);
  if (source) setModelSourceDir(model, source);
  const embedded = await createEmbeddedEngine({
    config: ck.model.config,
    sharedParams: shared,
    slots: recipe.model.engine_slots,
    maxBatchTokens: recipe.model.engine_max_batch_tokens,
    kernels: recipe.model.kernels,
    eosTokenIds: chat.stopTokenIds,
  });
  // async GRPO without in-flight updates: the optimizer's write waits for running generations to end
  const engine = drainsBeforeUpdates(recipe) ? drainedUpdates(embedded) : embedded;
  let pendingRefitS = 0;
  const trainer = new EmbeddedTrainer({
    model,
    optimizer: (restoreOptimizer && ck.optimizer) || undefined,
    adamw: adamwOf(recipe),
    microBatchTokens: recipe.policy.train_micro_batch_tokens,
    temperature: scoringTemperature(recipe.policy.generation.temperature),
    // the engine parks between two decode steps while the optimizer writes in place
    commit: async (write) => {
      const t0 = performance.now();
      let writeMs = 0;
      await engine.updateWeights({
        kind: "shared",
        write: () => {
          const w0 = performance.now();
          write();
          writeMs = performance.now() - w0;
        },
      });
      pendingRefitS += (performance.now() - t0 - writeMs) / 1000;
    },
  });
  // a restored optimizer keeps its moments but takes this recipe's hyperparameters
  if (restoreOptimizer && ck.optimizer) Object.assign(trainer.optimizer.cfg, adamwOf(recipe));
  return {
    trainer,
    reference: referenceScorer(recipe, ck, kernels),
    engine,
    chat,
    description: `trainer ${trainer.description}, engine embedded (shared weights)`,
    refit: async () => {
      const seconds = pendingRefitS;
      pendingRefitS = 0;
      return { policyVersion: engine.policyVersion, seconds };
    },
    close: async () => {
      await engine.close();
      await trainer.close();
    },
  };
}
