/**
 * Request shaping before a chat completion goes to the policy (NeMo Gym vllm_model
 * `_preprocess_chat_completion_create_params`): model forced to the config's; extra_body =
 * config ∪ metadata.extra_body, merged UNDER the request's own fields; chat_template_kwargs =
 * config ∪ metadata.chat_template_kwargs; token-id flags; n = 1; sampling_overrides last (on-policy
 * training samples with the distribution the policy is trained under, whatever the caller asked).
 */
import { HttpError } from "../../http/errors.ts";
import type { VllmModelConfig } from "./config.ts";

export function shapeChatRequest(body: Record<string, unknown>, cfg: VllmModelConfig, metadata?: Record<string, string> | null): Record<string, unknown> {
  const extraBody = { ...(cfg.extra_body ?? {}), ...jsonSideChannel(metadata, "extra_body") };
  const kwargs = { ...(cfg.chat_template_kwargs ?? {}), ...jsonSideChannel(metadata, "chat_template_kwargs") };
  const out: Record<string, unknown> = { ...extraBody, ...body, model: cfg.model };
  if (Object.keys(kwargs).length > 0) out.chat_template_kwargs = { ...((out.chat_template_kwargs as object) ?? {}), ...kwargs };
  if (out.top_logprobs === null) delete out.top_logprobs;
  if (cfg.return_token_id_information) {
    if (out.n != null && out.n !== 1) throw new HttpError(400, "n must be 1 when token ids are returned");
    out.logprobs = true;
    out.top_logprobs = 0;
    out.return_tokens_as_token_ids = true;
    if (cfg.request_prompt_and_generation_token_ids) out.return_token_ids = true;
  }
  Object.assign(out, cfg.sampling_overrides ?? {});
  return out;
}

function jsonSideChannel(metadata: Record<string, string> | null | undefined, key: string): Record<string, unknown> {
  const raw = metadata?.[key];
  if (raw === undefined) return {};
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new HttpError(400, `metadata.${key} must be a JSON object string`);
}
