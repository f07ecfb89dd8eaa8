/**
 * @module grpo/backend: builds the policy backend a recipe names — trainer (`trainer.backend`:
 * embedded | torch) × engine (`generation.backend`: embedded | vllm | sglang) — from one checkpoint
 * directory and its chat format. The loop sees only the PolicyBackend interface (types.ts).
 *
 *   embedded × embedded   one shared weight buffer; the optimizer step is the refit (colocated.ts)
 *   any other pair        separate memory; refit through an HF safetensors directory (separate.ts)
 *   vllm | sglang with no generation.urls: N local `gymrl serve` replicas (engine/remote/start.ts)
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createEmbeddedEngine, type UpdatableGenerationEngine } from "../../engine/index.ts";
import { startRemoteEngine } from "../../engine/remote/index.ts";
import { loadCheckpoint, type LoadedCheckpoint } from "../../model/checkpoint.ts";
import { getKernels } from "../../tensor/index.ts";
import { loadChatFormat } from "../../tokenizer/index.ts";
import type { Recipe } from "../recipe.ts";
import { TorchTrainer } from "../torch-trainer/index.ts";
import { EmbeddedTrainer, type PolicyTrainer } from "../trainer.ts";
import { drainedUpdates } from "../../engine/drained-updates.ts";
import { adamwOf, colocatedBackend, drainsBeforeUpdates, referenceScorer, scoringTemperature } from "./colocated.ts";
import { separateBackend } from "./separate.ts";
import type { PolicyBackend } from "./types.ts";
import type { ChatFormat } from "../../tokenizer/index.ts";

export type { PolicyBackend, RefitResult } from "./types.ts";
export { GenerationBackendSchema, TrainerBackendSchema, type GenerationBackendSpec, type TrainerBackendSpec } from "./schema.ts";
export { refitThroughFiles } from "./refit-through-files.ts";

export interface BackendOptions {
  /** the checkpoint the weights come from (model.init, or a run checkpoint's policy/ on resume) */
  initDir: string;
  /** restore the optimizer state saved with the weights (resume) */
  restoreOptimizer?: boolean;
  /** the run directory (refit weights, worker logs) */
  runDir: string;
}

/** A line-per-event log in the run directory (worker and replica output a person can read later). */
function runLog(runDir: string, name: string): (source: string, line: string) => void {
  mkdirSync(runDir, { recursive: true });
  const path = join(runDir, name);
  return (source, line) => appendFileSync(path, `${source} ${line}\n`);
}

async function startTrainer(recipe: Recipe, opts: BackendOptions, ck: () => LoadedCheckpoint): Promise<PolicyTrainer> {
  if (recipe.trainer.backend === "torch") {
    const t = recipe.trainer.torch;
    const log = runLog(opts.runDir, "torch-worker.log");
    return TorchTrainer.start({
      checkpoint: opts.initDir,
      restoreOptimizer: opts.restoreOptimizer,
      nprocPerNode: t.nproc_per_node,
      launcher: t.launcher,
      nnodes: t.nnodes,
      nodeRank: t.node_rank,
      rdzvEndpoint: t.rdzv_endpoint,
      strategy: t.strategy,
      python: t.python,
      adamw: adamwOf(recipe),
      microBatchTokens: recipe.policy.train_micro_batch_tokens,
      temperature: scoringTemperature(recipe.policy.generation.temperature),
      callTimeoutS: t.call_timeout_s,
      onLog: (rank, line) => log(`rank${rank}`, line),
    });
  }
  const c = ck();
  const trainer = new EmbeddedTrainer({
    model: c.model,
    optimizer: (opts.restoreOptimizer && c.optimizer) || undefined,
    adamw: adamwOf(recipe),
    microBatchTokens: recipe.policy.train_micro_batch_tokens,
    temperature: scoringTemperature(recipe.policy.generation.temperature),
  });
  if (opts.restoreOptimizer && c.optimizer) Object.assign(trainer.optimizer.cfg, adamwOf(recipe));
  return trainer;
}

async function startEngine(recipe: Recipe, opts: BackendOptions, chat: ChatFormat): Promise<{ engine: UpdatableGenerationEngine; label: string; close: () => Promise<void> }> {
  const g = recipe.generation;
  if (g.backend === "embedded") {
    const engine = await createEmbeddedEngine({
      modelDir: opts.initDir,
      slots: recipe.model.engine_slots,
      maxBatchTokens: recipe.model.engine_max_batch_tokens,
      kernels: recipe.model.kernels,
      eosTokenIds: chat.stopTokenIds,
    });
    return { engine, label: "embedded", close: () => engine.close() };
  }
  const remote = await startRemoteEngine({
    dialect: g.backend,
    urls: g.urls,
    replicas: g.replicas,
    modelDir: opts.initDir,
    requestTimeoutS: g.request_timeout_s,
    kernels: recipe.model.kernels,
    slots: recipe.model.engine_slots,
  });
  return {
    engine: remote.engine,
    label: remote.label,
    close: async () => {
      // the replicas' own logs stay in the run directory for a person to read
      if (remote.local) writeFileSync(join(opts.runDir, "replicas.log"), remote.local.replicas.map((r, i) => `== replica ${i} ${r.url}\n${r.stderr()}`).join("\n"));
      await remote.close();
    },
  };
}

export async function createPolicyBackend(recipe: Recipe, opts: BackendOptions): Promise<PolicyBackend> {
  if (recipe.model.kernels !== "auto") process.env.GYMRL_KERNELS = recipe.model.kernels;
  const kernels = getKernels();
  // the checkpoint directory's own tokenizer, template, parser and stop ids (bundled Qwen3 for a compact-vocabulary demo model)
  const chat = loadChatFormat(opts.initDir);
  let loaded: LoadedCheckpoint | null = null;
  const ck = () => (loaded ??= loadCheckpoint(opts.initDir, { kernels }));
  if (recipe.trainer.backend === "embedded" && recipe.generation.backend === "embedded") {
    return colocatedBackend(recipe, ck(), kernels, chat, opts.restoreOptimizer ?? false);
  }
  const engine = await startEngine(recipe, opts, chat);
  let trainer: PolicyTrainer;
  try {
    trainer = await startTrainer(recipe, opts, ck);
  } catch (e) {
    await engine.close();
    throw e;
  }
  // the KL reference scores on the embedded kernels whichever trainer trains
  const reference = recipe.grpo.skip_reference_policy_logprobs_calculation ? null : referenceScorer(recipe, ck(), kernels);
  return separateBackend(
    recipe,
    { trainer, reference, engine: drainsBeforeUpdates(recipe) ? drainedUpdates(engine.engine) : engine.engine, engineLabel: engine.label, closeEngine: engine.close },
    chat,
    resolve(opts.runDir),
  );
}
