/**
 * The policy stack of an embedded GRPO run: the trainer's Model and the generation engine on one
 * shared parameter buffer (refit without a copy), the OpenAI-compatible server over the engine,
 * and the Gym servers (startGym) whose model proxy points at it. Started from a checkpoint
 * (model.init, or the run's own on resume). Not here: the loop that drives it (loop.ts).
 */
import { existsSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { allocSharedParams, createEmbeddedEngine, type EmbeddedEngine } from "../engine/index.ts";
import { startGym, type GymHandle } from "../gym/index.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { Model } from "../model/model.ts";
import { createOpenAIServer } from "../server/app.ts";
import { listen } from "../server/http.ts";
import { chatTokenizerFrom, qwenOutputParser } from "../server/tokenizer-adapter.ts";
import { getKernels } from "../tensor/index.ts";
import { loadQwen3Tokenizer, type Tokenizer } from "../tokenizer/index.ts";
import type { Recipe } from "./recipe.ts";
import { EmbeddedTrainer } from "./trainer.ts";

export interface PolicyStack {
  trainer: EmbeddedTrainer;
  /** a frozen copy of the initial weights, when the KL penalty needs reference logprobs */
  reference: EmbeddedTrainer | null;
  engine: EmbeddedEngine;
  tokenizer: Tokenizer;
  baseUrl: string;
  gym: GymHandle;
  /** seconds spent in refit overhead (pausing / resuming the engine) by the last commit */
  lastRefitS: number;
  close(): Promise<void>;
}

/** A checkpoint directory: DIR itself, or DIR/checkpoint (an `gymrl sft` run directory). */
export function resolveCheckpointDir(dir: string): string {
  if (existsSync(join(dir, "config.json"))) return dir;
  if (existsSync(join(dir, "checkpoint", "config.json"))) return join(dir, "checkpoint");
  throw new Error(`model.init ${dir}: no config.json there or in ${join(dir, "checkpoint")}`);
}

/** Rollouts sampled at T are scored at T; greedy (T = 0) rollouts at 1, the argmax's own distribution. */
const scoringTemperature = (t: number) => (t > 0 ? t : 1);

function stopIdsOf(tok: Tokenizer): number[] {
  const ids = new Set<number>();
  if (tok.eosTokenId !== null) ids.add(tok.eosTokenId);
  const eot = tok.addedTokens.get("<|endoftext|>"); // Qwen3's generation_config stops on it too
  if (eot !== undefined) ids.add(eot);
  return [...ids];
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
}

export async function startPolicyStack(recipe: Recipe, opts: StackOptions): Promise<PolicyStack> {
  if (recipe.model.kernels !== "auto") process.env.GYMRL_KERNELS = recipe.model.kernels;
  const kernels = getKernels();
  const ck = loadCheckpoint(resolveCheckpointDir(opts.initDir), { kernels });
  // the trainer's Model and the engine compute on one SharedArrayBuffer (colocated refit, no copy)
  const shared = allocSharedParams(ck.model.numParams);
  shared.set(ck.model.params.flat);
  const model = new Model(ck.model.config, { kernels, params: shared });
  const tokenizer = loadQwen3Tokenizer();
  const stopTokenIds = stopIdsOf(tokenizer);
  const engine = await createEmbeddedEngine({
    config: ck.model.config,
    sharedParams: shared,
    slots: recipe.model.engine_slots,
    maxBatchTokens: recipe.model.engine_max_batch_tokens,
    kernels: recipe.model.kernels,
    eosTokenIds: stopTokenIds,
  });
  const p = recipe.policy;
  const stack: Partial<PolicyStack> & { lastRefitS: number } = { lastRefitS: 0 };
  const trainer = new EmbeddedTrainer({
    model,
    optimizer: (opts.restoreOptimizer && ck.optimizer) || undefined,
    adamw: { beta1: p.optimizer.beta1, beta2: p.optimizer.beta2, eps: p.optimizer.eps, weightDecay: p.optimizer.weight_decay, gradClip: p.optimizer.max_grad_norm },
    microBatchTokens: p.train_micro_batch_tokens,
    temperature: scoringTemperature(p.generation.temperature),
    // the refit: the engine parks between two decode steps while the optimizer writes in place
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
      stack.lastRefitS = (performance.now() - t0 - writeMs) / 1000;
    },
  });
  if (opts.restoreOptimizer && ck.optimizer) Object.assign(trainer.optimizer.cfg, { beta1: p.optimizer.beta1, beta2: p.optimizer.beta2, eps: p.optimizer.eps, weightDecay: p.optimizer.weight_decay, gradClip: p.optimizer.max_grad_norm });
  const reference =
    recipe.grpo.skip_reference_policy_logprobs_calculation
      ? null
      : new EmbeddedTrainer({
          model: new Model(ck.model.config, { kernels, params: Float32Array.from(shared) }),
          microBatchTokens: p.train_micro_batch_tokens,
          temperature: scoringTemperature(p.generation.temperature),
        });

  const g = p.generation;
  const server: Server = createOpenAIServer({
    engine,
    tokenizer: chatTokenizerFrom(tokenizer),
    parser: qwenOutputParser,
    modelName: recipe.model.name,
    stopTokenIds,
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
    await engine.close();
    throw e;
  }
  return Object.assign(stack, {
    trainer,
    reference,
    engine,
    tokenizer,
    baseUrl,
    gym,
    close: async () => {
      await gym.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await engine.close();
    },
  }) as PolicyStack;
}
