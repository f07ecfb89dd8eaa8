/**
 * NeMo RL's GRPO defaults, camelCased, one line each with where the value comes from. Sources are
 * NVIDIA-NeMo/RL at 7ea279ab (2026-08-22): the pydantic configs, which `examples/configs/grpo_math_1B.yaml`
 * mirrors. This file holds values only; the functions that read them live beside it.
 */

/** Truncated importance sampling flavours (`truncated_importance_sampling_type`). */
export type TruncatedIsType = "tis" | "icepop" | "seq-mask-tis";

/** Schulman's KL estimators (`reference_policy_kl_type`), http://joschu.net/blog/kl-approx.html. */
export type KlType = "k1" | "k2" | "k3";

/** `ClippedPGLossConfig` (nemo_rl/algorithms/loss/loss_functions.py), camelCased. */
export interface ClippedPgLossConfig {
  /** REINFORCE/RLOO: ratio = curr logprob itself, no clipping. */
  disablePpoRatio: boolean;
  /** true: mean over all valid tokens of the batch; false: per-sequence mean, then mean over sequences. */
  tokenLevelLoss: boolean;
  /** GSPO: one ratio per sequence, exp(mean_t log ratio); requires tokenLevelLoss false. */
  sequenceLevelImportanceRatios: boolean;
  /** eps low: ratio clamped below at 1 - ratioClipMin. */
  ratioClipMin: number;
  /** eps high: ratio clamped above at 1 + ratioClipMax (DAPO's asymmetric clip). */
  ratioClipMax: number;
  /** Dual clip c > 1: where A < 0, the per-token loss is at most -A·c. null disables. */
  ratioClipC: number | null;
  /** beta; 0 skips the KL term (and the reference logprobs). */
  referencePolicyKlPenalty: number;
  referencePolicyKlType: KlType;
  /** |ref - curr| is clamped to this before the estimator; null disables. */
  klInputClampValue: number | null;
  /** the per-token KL is clamped to [-v, v]; null disables. */
  klOutputClampValue: number | null;
  /** KL weighted by exp(curr - gen) instead of exp(curr - sg(curr)). */
  useOnPolicyKlApproximation: boolean;
  /** multiply the actor loss by exp(prev - gen), the trainer/sampler mismatch correction. */
  useImportanceSamplingCorrection: boolean;
  truncatedImportanceSamplingType: TruncatedIsType | null;
  /** upper bound for tis / icepop / seq-mask-tis. */
  truncatedImportanceSamplingRatio: number | null;
  /** lower bound; tis defaults it to 0, icepop and seq-mask-tis require it. */
  truncatedImportanceSamplingRatioMin: number | null;
  /** ratio = exp(curr - sg(curr)) = 1: exactly one optimizer step per rollout. */
  forceOnPolicyRatio: boolean;
  /** CISPO: -A · sg(clamp(ratio)) · curr. */
  useCispo: boolean;
}

export const CLIPPED_PG_LOSS_DEFAULTS: Readonly<ClippedPgLossConfig> = Object.freeze({
  disablePpoRatio: false, // ClippedPGLossConfig.disable_ppo_ratio
  tokenLevelLoss: true, // ClippedPGLossConfig.token_level_loss
  sequenceLevelImportanceRatios: false, // ClippedPGLossConfig.sequence_level_importance_ratios
  ratioClipMin: 0.2, // ClippedPGLossConfig.ratio_clip_min
  ratioClipMax: 0.2, // ClippedPGLossConfig.ratio_clip_max
  ratioClipC: null, // ClippedPGLossConfig.ratio_clip_c ("usually set to 3" when enabled)
  referencePolicyKlPenalty: 0.01, // ClippedPGLossConfig.reference_policy_kl_penalty (Gym example configs use 0)
  referencePolicyKlType: "k3", // ClippedPGLossConfig.reference_policy_kl_type
  klInputClampValue: 20.0, // ClippedPGLossConfig.kl_input_clamp_value
  klOutputClampValue: 10.0, // ClippedPGLossConfig.kl_output_clamp_value
  useOnPolicyKlApproximation: false, // ClippedPGLossConfig.use_on_policy_kl_approximation
  useImportanceSamplingCorrection: false, // ClippedPGLossConfig.use_importance_sampling_correction (async GRPO asserts true)
  truncatedImportanceSamplingType: null, // ClippedPGLossConfig.truncated_importance_sampling_type
  truncatedImportanceSamplingRatio: null, // ClippedPGLossConfig.truncated_importance_sampling_ratio
  truncatedImportanceSamplingRatioMin: null, // ClippedPGLossConfig.truncated_importance_sampling_ratio_min
  forceOnPolicyRatio: false, // ClippedPGLossConfig.force_on_policy_ratio
  useCispo: false, // ClippedPGLossConfig.use_cispo
});

/** Reference bounds quoted in NeMo RL's loss comments, for configs that turn truncation on. */
export const TRUNCATED_IS_REFERENCE_BOUNDS = Object.freeze({
  icepop: { min: 0.5, max: 5 }, // loss_functions.py comment: "icepop ... (ref bounds: 0.5–5)"
  seqMaskTis: { min: 0.999, max: 1.002 }, // loss_functions.py comment: "seq-mask-tis ... (ref bounds: 0.999–1.002)"
});

/** The GRPO-side knobs this folder implements (`GRPOConfig`, `AdvEstimatorConfig`). */
export interface GrpoAlgorithmConfig {
  numPromptsPerStep: number;
  numGenerationsPerPrompt: number;
  /** divide the advantage by the group std where that std is > 0. */
  normalizeRewards: boolean;
  /** baseline = mean of the other members of the group (RLOO). */
  useLeaveOneOutBaseline: boolean;
  advantageClipLow: number | null;
  advantageClipHigh: number | null;
  /** truncated samples get loss multiplier 0 (they still count in the baseline). */
  overlongFiltering: boolean;
  /** DAPO: drop groups whose rewards do not vary and generate more. */
  useDynamicSampling: boolean;
  dynamicSamplingMaxGenBatches: number;
  /** prompts generated per dynamic-sampling batch = numPromptsPerStep · batchMultiplier. */
  batchMultiplier: number;
  /** mask sequences whose mean exp(|gen - prev|) exceeds this; null only measures. */
  seqLogprobErrorThreshold: number | null;
}

export const GRPO_DEFAULTS: Readonly<GrpoAlgorithmConfig> = Object.freeze({
  numPromptsPerStep: 32, // GRPOConfig.num_prompts_per_step
  numGenerationsPerPrompt: 16, // GRPOConfig.num_generations_per_prompt
  normalizeRewards: true, // AdvEstimatorConfig.normalize_rewards (= GRPOConfig.normalize_rewards)
  useLeaveOneOutBaseline: true, // AdvEstimatorConfig.use_leave_one_out_baseline (= GRPOConfig.use_leave_one_out_baseline)
  advantageClipLow: null, // GRPOConfig.advantage_clip_low
  advantageClipHigh: null, // GRPOConfig.advantage_clip_high
  overlongFiltering: false, // GRPOConfig.overlong_filtering
  useDynamicSampling: false, // GRPOConfig.use_dynamic_sampling
  dynamicSamplingMaxGenBatches: 10, // GRPOConfig.dynamic_sampling_max_gen_batches
  batchMultiplier: 1.0, // GRPOConfig.batch_multiplier
  seqLogprobErrorThreshold: null, // GRPOConfig.seq_logprob_error_threshold
});

/** Advantage normalisation epsilon: A / (std + 1e-6) (advantage_estimator.py GRPOAdvantageEstimator). */
export const ADVANTAGE_STD_EPSILON = 1e-6;

/** masked_mean's denominator guard: sum / (count + 1e-8) (nemo_rl/algorithms/utils.py masked_mean). */
export const MASKED_MEAN_EPSILON = 1e-8;

/** `RewardShapingConfig` (nemo_rl/algorithms/reward_functions.py), camelCased. */
export interface RewardShapingConfig {
  enabled: boolean;
  overlongBufferLength: number | null;
  overlongBufferPenalty: number | null;
  maxResponseLength: number | null;
  /** scale truncated samples' rewards by this (0..1); when set, the DAPO overlong fields are ignored. */
  stopProperlyPenaltyCoef: number | null;
}

export const REWARD_SHAPING_DEFAULTS: Readonly<RewardShapingConfig> = Object.freeze({
  enabled: false, // RewardShapingConfig.enabled
  overlongBufferLength: 128, // grpo_math_1B.yaml grpo.reward_shaping.overlong_buffer_length (pydantic: None)
  overlongBufferPenalty: 1, // grpo_math_1B.yaml grpo.reward_shaping.overlong_buffer_penalty (pydantic: None)
  maxResponseLength: null, // grpo_math_1B.yaml: ${policy.max_total_sequence_length}; the caller supplies it
  stopProperlyPenaltyCoef: null, // RewardShapingConfig.stop_properly_penalty_coef
});

/** `RewardScalingConfig` (nemo_rl/algorithms/grpo.py), camelCased. */
export interface RewardScalingConfig {
  enabled: boolean;
  sourceMin: number;
  sourceMax: number;
  targetMin: number;
  targetMax: number;
}

export const REWARD_SCALING_DEFAULTS: Readonly<RewardScalingConfig> = Object.freeze({
  enabled: false, // RewardScalingConfig.enabled
  sourceMin: 0.0, // RewardScalingConfig.source_min
  sourceMax: 1.0, // RewardScalingConfig.source_max
  targetMin: 0.0, // RewardScalingConfig.target_min
  targetMax: 1.0, // RewardScalingConfig.target_max
});
