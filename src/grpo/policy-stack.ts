/**
 * The policy stack of a GRPO run: the policy backend (trainer + engine + refit, backend/), the
 * OpenAI-compatible server over its engine, and the Gym servers (startGym) whose model proxy points
 * at it. Started from a checkpoint (model.init, or the run's own on resume). Not here: the loop that
 * drives it (loop.ts), or which trainer and engine a recipe picks (backend/index.ts).
 */
import { existsSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import type { UpdatableGenerationEngine } from "../engine/index.ts";
import { VersionLedger } from "../engine/version-ledger.ts";
import { startGym, type GymHandle } from "../gym/index.ts";
import { createOpenAIServer } from "../server/app.ts";
import { listen } from "../server/http.ts";
import { chatTokenizerFrom, outputParserFrom } from "../server/tokenizer-adapter.ts";
import type { Tokenizer } from "../tokenizer/index.ts";
import { createPolicyBackend, type PolicyBackend, type RefitResult } from "./backend/index.ts";
import type { Recipe } from "./recipe.ts";
import type { PolicyTrainer } from "./trainer.ts";

export interface PolicyStack {
  backend: PolicyBackend;
  trainer: PolicyTrainer;
  /** a frozen copy of the initial weights, when the KL penalty needs reference logprobs */
  reference: PolicyTrainer | null;
  engine: UpdatableGenerationEngine;
  tokenizer: Tokenizer;
  baseUrl: string;
  gym: GymHandle;
  /**
   * The engine's record of each generated token's policy version (async GRPO reads it: the Gym
   * wire carries no versions); present when grpo.async_grpo is enabled.
   */
  ledger?: VersionLedger;
  /** New weights to the engine after a step's optimizer steps (backend.refit). */
  refit(): Promise<RefitResult>;
  close(): Promise<void>;
}

/** A checkpoint directory: DIR itself, or DIR/checkpoint (an `gymrl sft` run directory). */
export function resolveCheckpointDir(dir: string): string {
  if (existsSync(join(dir, "config.json"))) return dir;
  if (existsSync(join(dir, "checkpoint", "config.json"))) return join(dir, "checkpoint");
  throw new Error(`model.init ${dir}: no config.json there or in ${join(dir, "checkpoint")}`);
}

export interface StackOptions {
  /** where the weights come from: model.init, or a run checkpoint's policy/ on resume */
  initDir: string;
  /** Gym children's output lines (default: dropped) */
  onGymOutput?: (server: string, line: string) => void;
  /**
   * Restore the optimizer state saved with the weights (resume). Off when starting from model.init:
   * a new RL run starts a fresh optimizer, as NeMo RL does, rather than inheriting SFT's moments
   * (whose second moments are scaled to another loss and would set the RL step size).
   */
  restoreOptimizer?: boolean;
  /** the run directory (default recipe.run.out_dir) */
  runDir?: string;
}

export async function startPolicyStack(recipe: Recipe, opts: StackOptions): Promise<PolicyStack> {
  const backend = await createPolicyBackend(recipe, {
    initDir: resolveCheckpointDir(opts.initDir),
    restoreOptimizer: opts.restoreOptimizer,
    runDir: opts.runDir ?? recipe.run.out_dir,
  });
  const { engine, chat } = backend;
  const g = recipe.policy.generation;
  // bounded: records are read and forgotten batch by batch; room for the batches the age bound lets run ahead
  const gr = recipe.grpo;
  const ledger = gr.async_grpo.enabled ? new VersionLedger(Math.max(8192, 8 * gr.num_prompts_per_step * gr.num_generations_per_prompt * (gr.async_grpo.max_trajectory_age_steps + 2))) : undefined;
  const server: Server = createOpenAIServer({
    engine: ledger ? ledger.recording(engine) : engine,
    tokenizer: chatTokenizerFrom(chat),
    parser: outputParserFrom(chat.outputParser),
    modelName: recipe.model.name,
    stopTokenIds: chat.stopTokenIds,
    // refuse any request off the trainer's sampling distributions (on-policy guard)
    samplingProfiles: [
      { name: "train", temperature: g.temperature, topP: g.top_p },
      { name: "validation", temperature: g.val_temperature, topP: g.val_top_p },
    ],
  });
  let baseUrl: string;
  let gym: GymHandle;
  try {
    baseUrl = await listen(server, "127.0.0.1", 0);
    gym = await startGym({
      configPaths: recipe.gym.config_paths,
      overrides: [...recipe.gym.overrides, `+policy_base_url=${baseUrl}/v1`, "+policy_api_key=gymrl", `+policy_model_name=${recipe.model.name}`],
      envYaml: false,
      startupTimeoutMs: recipe.gym.startup_timeout_s * 1000,
      onOutput: opts.onGymOutput,
    });
  } catch (e) {
    server.closeAllConnections();
    server.close();
    await backend.close();
    throw e;
  }
  return {
    backend,
    trainer: backend.trainer,
    reference: backend.reference,
    engine,
    tokenizer: chat.tokenizer,
    baseUrl,
    gym,
    ...(ledger ? { ledger } : {}),
    refit: () => backend.refit(),
    close: async () => {
      await gym.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await backend.close();
    },
  };
}
