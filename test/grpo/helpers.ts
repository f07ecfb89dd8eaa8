/**
 * Fixtures for the GRPO loop's tests: a tiny random policy checkpoint whose compact vocabulary is
 * the first 256 Qwen3 ids plus every added token (so it can end turns and emit tool-call markers),
 * and a recipe over the calculator environment with everything small. Test support only.
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify as toYaml } from "yaml";
import { saveCheckpoint } from "../../src/model/checkpoint.ts";
import { demoConfigFor } from "../../src/model/default-config.ts";
import { Model } from "../../src/model/model.ts";
import { buildVocabMap } from "../../src/model/vocab.ts";
import { referenceKernels } from "../../src/tensor/index.ts";
import { loadQwen3Tokenizer } from "../../src/tokenizer/index.ts";

export const REPO = resolve(fileURLToPath(new URL("../../", import.meta.url)));

/** Writes a tiny random policy (hidden 32, 2 layers) to dir; returns dir. */
export function tinyPolicyCheckpoint(dir: string, seed = 0): string {
  const tok = loadQwen3Tokenizer();
  const ids = buildVocabMap([...Array.from({ length: 256 }, (_, i) => i), ...tok.addedTokens.values()]);
  const config = {
    ...demoConfigFor(ids),
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 16,
  };
  saveCheckpoint(dir, new Model(config, { kernels: referenceKernels, seed }));
  return dir;
}

/** Five calculator rows: a pool small enough that a few steps cross epochs. */
export function smallTrainFile(dir: string): string {
  const rows = [11, 22, 33, 44, 55].map((a, i) => ({
    responses_create_params: {
      input: [{ role: "user", content: `What is ${a}+${i}?` }],
      tools: [{ type: "function", name: "calculate", description: "Evaluate an arithmetic expression.", parameters: { type: "object", properties: { expr: { type: "string" } }, required: ["expr"] }, strict: false }],
    },
    question: `${a}+${i}`,
    expected_answer: String(a + i),
  }));
  const path = join(dir, "train.jsonl");
  writeFileSync(path, rows.map((r) => JSON.stringify(r) + "\n").join(""));
  return path;
}

/** A recipe object over the calculator environment, sized for tests. */
export function tinyRecipe(opts: { init: string; outDir: string; train: string }): Record<string, unknown> {
  return {
    run: { out_dir: opts.outDir, seed: 3 },
    model: { init: opts.init, kernels: "auto", engine_slots: 16 },
    gym: {
      config_paths: [join(REPO, "src/gym/configs/vllm_model_for_training.yaml"), join(REPO, "src/environments/calculator/configs/calculator.yaml")],
      overrides: ["+calculator_simple_agent.responses_api_agents.simple_agent.max_steps=2"],
    },
    environments: [{ agent: "calculator_simple_agent", train: opts.train, validation: join(REPO, "src/environments/calculator/data/validation.jsonl") }],
    grpo: { num_prompts_per_step: 3, num_generations_per_prompt: 2, max_num_steps: 4, max_num_epochs: 10, val_period: 0, val_at_start: false, val_at_end: false, max_val_samples: 4 },
    loss_fn: { reference_policy_kl_penalty: 0 },
    policy: { train_global_batch_size: 64, optimizer: { lr: 1e-3 }, generation: { max_new_tokens: 6 } },
    checkpointing: { enabled: true, save_period: 1, keep: 2 },
  };
}

export function writeRecipe(path: string, recipe: Record<string, unknown>): string {
  writeFileSync(path, toYaml(recipe));
  return path;
}
