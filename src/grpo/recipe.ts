/**
 * The GRPO recipe: one YAML file with the run, the model, the Gym config, the environments' data,
 * the algorithm and the schedule (NeMo RL's grpo_*.yaml sections, snake_case as there), validated
 * by zod with every default written once below. Any field can be overridden from the command line
 * with `dotted.key=value` (the value is read as YAML: `grpo.max_num_steps=3`, `gym.overrides=[]`).
 * Relative paths in the file are resolved against the process's working directory (the repo root),
 * like NeMo Gym's config paths. Not here: running it (loop.ts).
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { GenerationBackendSchema, TrainerBackendSchema } from "./backend/schema.ts";
import {
  CLIPPED_PG_LOSS_DEFAULTS as PG,
  GRPO_DEFAULTS as G,
  REWARD_SCALING_DEFAULTS as RS,
  REWARD_SHAPING_DEFAULTS as RSH,
} from "./defaults.ts";
import { formatConfigIssues } from "../gym/config/unknown-keys.ts";

// ------------------------------------------------------------------------------------------------
// schema, in commented groups

const RunSchema = z.strictObject({
  /** run directory: metrics.jsonl, plot.html, checkpoints/, prompts.jsonl, recipe.resolved.yaml */
  out_dir: z.string().default("runs/grpo"),
  /** seeds the data order (per epoch) and the engine's sampling */
  seed: z.number().int().default(0),
  /** print the one-line summary every this many steps */
  log_every: z.number().int().positive().default(1),
  /** write the first n Gym results of each step (token fields left out) to rollouts.jsonl */
  dump_rollouts: z.number().int().nonnegative().default(0),
});

const ModelSchema = z.strictObject({
  /** checkpoint directory (config.json + model.safetensors; a run directory's checkpoint/ works too) */
  init: z.string().optional(),
  /** "auto" (native when the addon loads), "native" or "reference" */
  kernels: z.enum(["auto", "native", "reference"]).default("auto"),
  /** engine KV-cache slots: sequences decoded at once */
  engine_slots: z.number().int().positive().default(128),
  /** rows per engine step (decodes + prefill chunk) */
  engine_max_batch_tokens: z.number().int().positive().default(512),
  /** served model name (what Gym's policy_model_name says) */
  name: z.string().default("gymrl-policy"),
});

const GymSchema = z.strictObject({
  /** NeMo Gym config files: the model proxy (vllm_model_for_training.yaml) and each environment's */
  config_paths: z.array(z.string()).min(1),
  /** Hydra-style overrides (`+key=value`) applied after the files */
  overrides: z.array(z.string()).default([]),
  /** seconds each Gym server may take to answer GET / */
  startup_timeout_s: z.number().positive().default(120),
});

const DataSourceSchema = z.union([
  z.string(), // a JSONL file of Gym rows
  z.strictObject({
    /** a registered environment's generator (src/environments/<name>), rows made on the fly */
    generator: z.string(),
    split: z.enum(["train", "validation"]),
    n: z.number().int().positive(),
    seed: z.number().int().default(0),
  }),
]);

const EnvironmentSchema = z.strictObject({
  /** the agent server rows go to (stamped as agent_ref when a row has none) */
  agent: z.string(),
  train: DataSourceSchema,
  validation: DataSourceSchema.optional(),
});

/** NeMo RL's `grpo.reward_scaling`: clamp to [source_min, source_max], map linearly onto [target_min, target_max]. */
const RewardScalingSchema = z.strictObject({
  enabled: z.boolean().default(RS.enabled),
  source_min: z.number().default(RS.sourceMin),
  source_max: z.number().default(RS.sourceMax),
  target_min: z.number().default(RS.targetMin),
  target_max: z.number().default(RS.targetMax),
});

/** NeMo RL's `grpo.reward_shaping`: DAPO's overlong penalty, or the stop-properly penalty when its coef is set. */
const RewardShapingSchema = z.strictObject({
  enabled: z.boolean().default(RSH.enabled),
  overlong_buffer_length: z.number().int().positive().nullable().default(RSH.overlongBufferLength),
  overlong_buffer_penalty: z.number().min(0).nullable().default(RSH.overlongBufferPenalty),
  /** generated tokens per rollout at which the penalty is full; null: the engine's max model length (NeMo RL: policy.max_total_sequence_length) */
  max_response_length: z.number().int().positive().nullable().default(RSH.maxResponseLength),
  /** truncated rollouts' rewards × this (0..1); set, it replaces the DAPO penalty */
  stop_properly_penalty_coef: z.number().min(0).max(1).nullable().default(RSH.stopProperlyPenaltyCoef),
});

const GrpoSchema = z.strictObject({
  num_prompts_per_step: z.number().int().positive().default(G.numPromptsPerStep),
  num_generations_per_prompt: z.number().int().positive().default(G.numGenerationsPerPrompt),
  /** 0 with val_at_start: only validate the initial model */
  max_num_steps: z.number().int().nonnegative().default(1_000_000),
  max_num_epochs: z.number().int().positive().default(1),
  normalize_rewards: z.boolean().default(G.normalizeRewards),
  use_leave_one_out_baseline: z.boolean().default(G.useLeaveOneOutBaseline),
  advantage_clip_low: z.number().nullable().default(G.advantageClipLow),
  advantage_clip_high: z.number().nullable().default(G.advantageClipHigh),
  /** truncated samples get sampleMask 0 (they still count in their group's baseline) */
  overlong_filtering: z.boolean().default(G.overlongFiltering),
  /** DAPO: train only on prompt groups whose rewards vary; generate more batches to fill the step */
  use_dynamic_sampling: z.boolean().default(G.useDynamicSampling),
  /** dynamic sampling gives up (an error) after this many extra generation batches */
  dynamic_sampling_max_gen_batches: z.number().int().positive().default(G.dynamicSamplingMaxGenBatches),
  /** dynamic sampling: prompts per generation batch = floor(num_prompts_per_step × batch_multiplier) */
  batch_multiplier: z.number().positive().default(G.batchMultiplier),
  /** applied to each rollout's reward before advantages, before reward_shaping (NeMo RL's order) */
  reward_scaling: RewardScalingSchema.prefault({}),
  reward_shaping: RewardShapingSchema.prefault({}),
  /**
   * A rollout that failed after its retries (environment crashed, timeout, unreachable agent,
   * unusable result) has no tokens to train on. `drop`: it leaves its group, its baseline and
   * train/reward (the others are trained as a smaller group). `score_as_failure`: it counts as
   * reward 0 in its group's baseline and std and in train/reward. `abort`: the run stops with the
   * failure, as NeMo RL's synchronous loop does when a Gym /run fails. Either way the count is
   * train/failed_rollouts.
   */
  failed_rollout_policy: z.enum(["drop", "score_as_failure", "abort"]).default("drop"),
  seq_logprob_error_threshold: z.number().positive().nullable().default(G.seqLogprobErrorThreshold),
  /** validation cadence in steps (0 = none), before the first step, after the last */
  val_period: z.number().int().nonnegative().default(10),
  val_at_start: z.boolean().default(false),
  val_at_end: z.boolean().default(true),
  /** validation rows used (the first n of each environment's validation split) */
  max_val_samples: z.number().int().positive().default(256),
  /** NeMo Gym example configs set this (with a KL penalty of 0) */
  skip_reference_policy_logprobs_calculation: z.boolean().default(true),
  /**
   * Leave samples whose advantage is exactly 0 (groups whose rewards all agree) out of the
   * optimizer batch. They contribute no policy gradient (only the KL term, when on), but they do
   * count in the token-mean's denominator in NeMo RL, so this scales the step up; it saves most
   * of the training compute once groups saturate. gymrl's extension; default off (NeMo behaviour).
   */
  skip_zero_advantage_samples: z.boolean().default(false),
});

const LossSchema = z.strictObject({
  reference_policy_kl_penalty: z.number().min(0).default(0),
  reference_policy_kl_type: z.enum(["k1", "k2", "k3"]).default(PG.referencePolicyKlType),
  kl_input_clamp_value: z.number().nullable().default(PG.klInputClampValue),
  kl_output_clamp_value: z.number().nullable().default(PG.klOutputClampValue),
  ratio_clip_min: z.number().min(0).default(PG.ratioClipMin),
  ratio_clip_max: z.number().min(0).default(PG.ratioClipMax),
  ratio_clip_c: z.number().nullable().default(PG.ratioClipC),
  use_on_policy_kl_approximation: z.boolean().default(PG.useOnPolicyKlApproximation),
  use_importance_sampling_correction: z.boolean().default(PG.useImportanceSamplingCorrection),
  truncated_importance_sampling_type: z.enum(["tis", "icepop", "seq-mask-tis"]).nullable().default(PG.truncatedImportanceSamplingType),
  truncated_importance_sampling_ratio: z.number().nullable().default(PG.truncatedImportanceSamplingRatio),
  truncated_importance_sampling_ratio_min: z.number().nullable().default(PG.truncatedImportanceSamplingRatioMin),
  token_level_loss: z.boolean().default(PG.tokenLevelLoss),
  sequence_level_importance_ratios: z.boolean().default(PG.sequenceLevelImportanceRatios),
  force_on_policy_ratio: z.boolean().default(PG.forceOnPolicyRatio),
  use_cispo: z.boolean().default(PG.useCispo),
  disable_ppo_ratio: z.boolean().default(PG.disablePpoRatio),
});

const PolicySchema = z.strictObject({
  /** samples per optimizer step; a rollout batch larger than this takes several steps */
  train_global_batch_size: z.number().int().positive().default(512),
  /** tokens per forward/backward micro-batch */
  train_micro_batch_tokens: z.number().int().positive().default(4096),
  optimizer: z
    .object({
      lr: z.number().positive().default(1e-4),
      weight_decay: z.number().min(0).default(0.01),
      beta1: z.number().min(0).max(1).default(0.9),
      beta2: z.number().min(0).max(1).default(0.999),
      eps: z.number().positive().default(1e-8),
      max_grad_norm: z.number().min(0).default(1.0),
    })
    .prefault({}),
  scheduler: z
    .object({
      warmup_steps: z.number().int().nonnegative().default(0),
      schedule: z.enum(["constant", "cosine"]).default("constant"),
      min_lr_ratio: z.number().min(0).max(1).default(0.1),
    })
    .prefault({}),
  generation: z
    .object({
      temperature: z.number().min(0).default(1.0),
      /** training rollouts must sample the full softmax: < 1 is rejected (see checkTrainingSampling) */
      top_p: z.number().gt(0).max(1).default(1.0),
      /** null, -1 or 0: off (the only values training accepts; see checkTrainingSampling) */
      top_k: z.number().int().nullable().default(null),
      /** cap on max_output_tokens per model call */
      max_new_tokens: z.number().int().positive().default(256),
      val_temperature: z.number().min(0).default(0),
      /** validation is never trained on, so any nucleus is allowed here */
      val_top_p: z.number().gt(0).max(1).default(1.0),
    })
    .prefault({}),
});

const RolloutSchema = z.strictObject({
  /** rollouts in flight at once */
  concurrency: z.number().int().positive().default(128),
  /** per-rollout deadline in seconds */
  timeout_s: z.number().positive().default(300),
  /** retries of a failed /run (connection errors, 5xx) */
  max_retries: z.number().int().nonnegative().default(1),
});

const CheckpointSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** save every this many steps (and after the last) */
  save_period: z.number().int().positive().default(10),
  /** checkpoints kept (oldest removed first) */
  keep: z.number().int().positive().default(2),
});

export const RecipeSchema = z.strictObject({
  run: RunSchema.prefault({}),
  model: ModelSchema.prefault({}),
  gym: GymSchema,
  environments: z.array(EnvironmentSchema).min(1),
  grpo: GrpoSchema.prefault({}),
  loss_fn: LossSchema.prefault({}),
  policy: PolicySchema.prefault({}),
  rollout: RolloutSchema.prefault({}),
  checkpointing: CheckpointSchema.prefault({}),
  /** which trainer computes the gradients (backend/schema.ts) */
  trainer: TrainerBackendSchema.prefault({}),
  /** which engine generates the rollouts (backend/schema.ts) */
  generation: GenerationBackendSchema.prefault({}),
});

export type Recipe = z.infer<typeof RecipeSchema>;
export type DataSource = z.infer<typeof DataSourceSchema>;
export type EnvironmentSpec = z.infer<typeof EnvironmentSchema>;

export class RecipeError extends Error {
  override readonly name = "RecipeError";
}

// ------------------------------------------------------------------------------------------------
// loading

/** `a.b.c=value` → sets raw.a.b.c to the YAML-parsed value (objects created on the way). */
export function applyOverride(raw: Record<string, unknown>, override: string): void {
  const eq = override.indexOf("=");
  if (eq <= 0) throw new RecipeError(`override '${override}' is not key=value`);
  const path = override.slice(0, eq).replace(/^\+/, "").split(".");
  const text = override.slice(eq + 1);
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch {
    value = text;
  }
  let node = raw;
  for (const key of path.slice(0, -1)) {
    const next = node[key]; // arrays index by "0", "1", ... as well
    if (next === undefined || next === null || typeof next !== "object") node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value === null && text !== "null" && text !== "~" ? text : value;
}

/**
 * Parses and validates a recipe object, with overrides applied first. Unknown keys are errors that
 * name the key and the nearest known one; `source` (the file) goes in front of each.
 */
export function parseRecipe(raw: unknown, overrides: readonly string[] = [], source?: string): Recipe {
  const obj = structuredClone((raw ?? {}) as Record<string, unknown>);
  for (const o of overrides) applyOverride(obj, o);
  const r = RecipeSchema.safeParse(obj);
  if (!r.success) {
    const issues = formatConfigIssues(RecipeSchema, r.error.issues, { source, overrides }).map((l) => `  ${l}`).join("\n");
    throw new RecipeError(`invalid recipe:\n${issues}`);
  }
  const recipe = r.data;
  const lossCfg = lossConfigOf(recipe);
  if (lossCfg.referencePolicyKlPenalty > 0 && recipe.grpo.skip_reference_policy_logprobs_calculation)
    throw new RecipeError("loss_fn.reference_policy_kl_penalty > 0 needs grpo.skip_reference_policy_logprobs_calculation: false");
  checkTrainingSampling(recipe);
  const rs = recipe.grpo.reward_scaling;
  if (rs.enabled && !(rs.source_max > rs.source_min)) throw new RecipeError(`grpo.reward_scaling: source_max (${rs.source_max}) must be > source_min (${rs.source_min})`);
  if (recipe.grpo.use_dynamic_sampling && Math.floor(recipe.grpo.num_prompts_per_step * recipe.grpo.batch_multiplier) < 1)
    throw new RecipeError("grpo.batch_multiplier × grpo.num_prompts_per_step must be at least 1 prompt per generation batch");
  return recipe;
}

/**
 * Training rollouts must be sampled from the full softmax(logits / T). The engine reports logprobs
 * of the distribution it sampled from (renormalised over the nucleus / top k), while the trainer
 * scores the full softmax: with top_p < 1 or top_k on, every ratio prev/gen is biased. NeMo RL
 * rejected these too (top_p below 0.99, top_k below 8000) until its trainer learned to apply the
 * same filter; gymrl's trainer does not, so only "off" is accepted. Validation rollouts are not
 * trained on: val_top_p may be anything.
 */
function checkTrainingSampling(recipe: Recipe): void {
  const g = recipe.policy.generation;
  if (g.top_p < 1)
    throw new RecipeError(
      `policy.generation.top_p is ${g.top_p}: training rollouts must sample the full distribution (top_p 1.0). The engine's logprobs ` +
        "would be renormalised over the nucleus while the trainer scores the full softmax, biasing every importance ratio. " +
        "Use policy.generation.val_top_p for validation.",
    );
  if (g.top_k !== null && g.top_k !== -1 && g.top_k !== 0)
    throw new RecipeError(`policy.generation.top_k is ${g.top_k}: training rollouts must sample the full distribution (top_k null, -1 or 0), for the same reason as top_p`);
}

export function loadRecipe(path: string, overrides: readonly string[] = []): Recipe {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, "utf8"));
  } catch (e) {
    throw new RecipeError(`cannot read recipe ${path}: ${(e as Error).message}`);
  }
  return parseRecipe(raw, overrides, path);
}

/** The loss section as clippedPgLoss's camelCase config. */
export function lossConfigOf(r: Recipe) {
  const l = r.loss_fn;
  return {
    referencePolicyKlPenalty: l.reference_policy_kl_penalty,
    referencePolicyKlType: l.reference_policy_kl_type,
    klInputClampValue: l.kl_input_clamp_value,
    klOutputClampValue: l.kl_output_clamp_value,
    ratioClipMin: l.ratio_clip_min,
    ratioClipMax: l.ratio_clip_max,
    ratioClipC: l.ratio_clip_c,
    useOnPolicyKlApproximation: l.use_on_policy_kl_approximation,
    useImportanceSamplingCorrection: l.use_importance_sampling_correction,
    truncatedImportanceSamplingType: l.truncated_importance_sampling_type,
    truncatedImportanceSamplingRatio: l.truncated_importance_sampling_ratio,
    truncatedImportanceSamplingRatioMin: l.truncated_importance_sampling_ratio_min,
    tokenLevelLoss: l.token_level_loss,
    sequenceLevelImportanceRatios: l.sequence_level_importance_ratios,
    forceOnPolicyRatio: l.force_on_policy_ratio,
    useCispo: l.use_cispo,
    disablePpoRatio: l.disable_ppo_ratio,
  };
}
