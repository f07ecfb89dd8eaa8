/**
 * Reading the token bundle of one chat completion (NeMo Gym vllm_model, PR #1558), in order:
 *   1. a complete bundle on choices[0].message (what NeMo RL's and gymrl's servers return);
 *   2. top-level prompt_token_ids + choices[0].token_ids (vLLM return_token_ids), logprobs from
 *      choices[0].logprobs.content[i].logprob;
 *   3. generation ids from logprobs tokens "token_id:<n>" (return_tokens_as_token_ids), the
 *      prompt ids from the backend's POST /tokenize.
 * Sources that are partial or disagree are an error, never silently mixed.
 */
import type { ChatChoice, ChatCompletion } from "../../protocol/chat.ts";
import { readWireBundle, type TokenBundle } from "../../protocol/tokens.ts";

export class TokenBundleError extends Error {
  override name = "TokenBundleError";
}

const TOKEN_ID = /^token_id:(-?\d+)$/;

export async function extractTokenBundle(
  completion: ChatCompletion,
  tokenize: () => Promise<number[]>,
): Promise<TokenBundle> {
  const choice = completion.choices[0];
  const onMessage = readWireBundle(choice.message as Record<string, unknown>);
  if (onMessage && "error" in onMessage) throw new TokenBundleError(`policy message: ${onMessage.error}`);

  const logprobs = choice.logprobs?.content ?? undefined;
  const lp = logprobs?.map((c) => c.logprob);
  const idsFromLogprobs = logprobs && logprobs.length > 0 && logprobs.every((c) => TOKEN_ID.test(c.token)) ? logprobs.map((c) => Number(TOKEN_ID.exec(c.token)![1])) : undefined;

  let fromIds: TokenBundle | undefined;
  const topPrompt = completion.prompt_token_ids ?? undefined;
  const choiceIds = choice.token_ids ?? undefined;
  if (topPrompt || choiceIds) {
    if (!topPrompt || !choiceIds) throw new TokenBundleError("policy returned only one of prompt_token_ids and choices[0].token_ids");
    if (!lp || lp.length !== choiceIds.length) throw new TokenBundleError(`choices[0].token_ids has ${choiceIds.length} ids but logprobs has ${lp?.length ?? 0} entries`);
    if (idsFromLogprobs && !sameIds(idsFromLogprobs, choiceIds)) throw new TokenBundleError("choices[0].token_ids disagree with the token ids in logprobs");
    fromIds = { promptTokenIds: topPrompt, generationTokenIds: choiceIds, generationLogProbs: lp };
  }

  if (onMessage) {
    if (fromIds && (!sameIds(fromIds.promptTokenIds, onMessage.promptTokenIds) || !sameIds(fromIds.generationTokenIds, onMessage.generationTokenIds))) {
      throw new TokenBundleError("token ids on the message disagree with prompt_token_ids/token_ids of the completion");
    }
    return onMessage;
  }
  if (fromIds) return fromIds;
  if (idsFromLogprobs && lp) return { promptTokenIds: await tokenize(), generationTokenIds: idsFromLogprobs, generationLogProbs: lp };
  if (logprobs && logprobs.length === 0 && choice.finish_reason === "length") {
    return { promptTokenIds: await tokenize(), generationTokenIds: [], generationLogProbs: [] };
  }
  throw new TokenBundleError("policy returned no token ids (no bundle on the message, no token_ids, no token_id:<n> logprobs)");
}

/** The completion as the trainer should see it: transport-only fields removed, bundle on the message. */
export function withBundleOnMessage(completion: ChatCompletion, bundle: TokenBundle): ChatCompletion {
  const { prompt_token_ids: _p, ...rest } = completion;
  const [first, ...others] = rest.choices;
  const { token_ids: _t, logprobs: _l, ...choice } = first as ChatChoice;
  const message = {
    ...choice.message,
    prompt_token_ids: bundle.promptTokenIds,
    generation_token_ids: bundle.generationTokenIds,
    generation_log_probs: bundle.generationLogProbs,
    ...(bundle.routedExperts != null ? { routed_experts: bundle.routedExperts } : {}),
  };
  return { ...rest, choices: [{ ...choice, message } as ChatChoice, ...others] };
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
