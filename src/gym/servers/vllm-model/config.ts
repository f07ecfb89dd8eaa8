/** The vllm_model config block, as in NeMo Gym's vllm_model.yaml / vllm_model_for_training.yaml. */
import { z } from "zod";

export const vllmModelConfig = z.looseObject({
  base_url: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  api_key: z.string().nullish(),
  model: z.string(),
  return_token_id_information: z.boolean().default(false),
  request_prompt_and_generation_token_ids: z.boolean().default(false),
  uses_reasoning_parser: z.boolean().default(false),
  uses_interleaved_reasoning: z.boolean().default(false),
  preserve_reasoning_in_assistant_content: z.boolean().default(false),
  replace_developer_role_with_system: z.boolean().default(false),
  chat_template_kwargs: z.record(z.string(), z.unknown()).nullish(),
  extra_body: z.record(z.string(), z.unknown()).nullish(),
  sampling_overrides: z.record(z.string(), z.unknown()).nullish(),
  default_headers: z.record(z.string(), z.string()).nullish(),
  /** gymrl: per-call deadline for the policy, in seconds (NeMo Gym has none). */
  request_timeout_seconds: z.number().positive().nullish(),
});

export type VllmModelConfig = z.infer<typeof vllmModelConfig>;
