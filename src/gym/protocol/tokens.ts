/**
 * The token bundle that makes a Gym rollout trainable: on the last output item of each model call,
 * the exact prompt the engine saw and the tokens it sampled, with their logprobs. Wire names as
 * NeMo Gym (`TokenIDLogProbMixin`); the camelCase TokenBundle is for code inside gymrl.
 */
import { z } from "zod";

export const TOKEN_FIELDS = ["prompt_token_ids", "generation_token_ids", "generation_log_probs"] as const;

/** Optional token fields as they may sit on an item or a chat message. */
export const tokenFieldsShape = {
  prompt_token_ids: z.array(z.number().int()).optional(),
  generation_token_ids: z.array(z.number().int()).optional(),
  generation_log_probs: z.array(z.number()).optional(),
  routed_experts: z.unknown().optional(),
};

export interface WireTokenBundle {
  prompt_token_ids: number[];
  generation_token_ids: number[];
  generation_log_probs: number[];
  routed_experts?: unknown;
}

export interface TokenBundle {
  promptTokenIds: number[];
  generationTokenIds: number[];
  generationLogProbs: number[];
  routedExperts?: unknown;
}

export function toWireBundle(b: TokenBundle): WireTokenBundle {
  const w: WireTokenBundle = {
    prompt_token_ids: b.promptTokenIds,
    generation_token_ids: b.generationTokenIds,
    generation_log_probs: b.generationLogProbs,
  };
  if (b.routedExperts !== undefined && b.routedExperts !== null) w.routed_experts = b.routedExperts;
  return w;
}

/**
 * The bundle on a wire object, or undefined when it has none. Atomic rule (NeMo Gym
 * `_validate_atomic_token_metadata`): any token field present means all three must be, and the
 * generation ids and logprobs have one entry per token; anything else is an error message.
 */
export function readWireBundle(o: Record<string, unknown>): TokenBundle | undefined | { error: string } {
  const present = TOKEN_FIELDS.filter((k) => o[k] !== undefined && o[k] !== null);
  if (present.length === 0) return undefined;
  if (present.length < TOKEN_FIELDS.length) {
    return { error: `token fields must come together: has ${present.join(", ")} but not ${TOKEN_FIELDS.filter((k) => !present.includes(k)).join(", ")}` };
  }
  const p = o.prompt_token_ids as number[];
  const g = o.generation_token_ids as number[];
  const l = o.generation_log_probs as number[];
  if (g.length !== l.length) return { error: `generation_token_ids has ${g.length} entries but generation_log_probs has ${l.length}` };
  return { promptTokenIds: p, generationTokenIds: g, generationLogProbs: l, routedExperts: o.routed_experts };
}

/** Zod refinement applying the atomic rule to an object schema. */
export function atomicTokenFields(o: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const r = readWireBundle(o);
  if (r && "error" in r) ctx.addIssue({ code: "custom", message: r.error, path: [] });
}
