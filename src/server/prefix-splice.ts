/**
 * The on-policy token-ID fix: keep every earlier turn exactly as the model generated it.
 *
 * A multi-turn client sends history back as messages. Re-templating and re-tokenizing them can
 * change the tokens (BPE merges, tool-call whitespace, templates that drop earlier <think>), so
 * the prompt is rebuilt from the model's own ids up to the last assistant turn, followed by the
 * freshly templated rest. The boundary is located by counting EOS tokens, not by position,
 * because a think-stripping template shifts positions but keeps one EOS per message; the same
 * rule as NeMo RL's `replace_prefix_tokens`.
 */

/** Why a prefix could not be spliced safely; the server turns it into a 400. */
export class PrefixSpliceError extends Error {
  override readonly name = "PrefixSpliceError";
  constructor(
    message: string,
    /** The request field at fault, for the 400's `param`. */
    readonly param = "messages",
  ) {
    super(message);
  }
}

/**
 * modelPrefix: the last assistant turn's prompt_token_ids + generation_token_ids (what the model saw
 * and produced). templatePrefix: the messages up to and including that assistant turn, templated
 * without a generation prompt. template: the whole request templated as the model will see it.
 * Returns modelPrefix (minus a trailing EOS) followed by template from its N-th EOS on, where N is
 * the number of EOS tokens in templatePrefix.
 */
export function replacePrefixTokens(
  modelPrefix: readonly number[],
  templatePrefix: readonly number[],
  template: readonly number[],
  eosTokenId: number,
): number[] {
  return spliceAtEosCount(modelPrefix, countOf(templatePrefix, eosTokenId), template, eosTokenId);
}

/**
 * The same splice given only how many EOS tokens the templated history holds, so a caller that
 * can count them in the rendered text need not tokenize the history a second time.
 */
export function spliceAtEosCount(
  modelPrefix: readonly number[],
  eosInPrefix: number,
  template: readonly number[],
  eosTokenId: number,
): number[] {
  if (modelPrefix.length === 0) return [...template];

  // A length-stopped generation has no EOS: keep it whole, the template supplies the EOS.
  const modelCutEnd = modelPrefix.length - (modelPrefix[modelPrefix.length - 1] === eosTokenId ? 1 : 0);

  if (eosInPrefix === 0) {
    throw new PrefixSpliceError(
      "cannot splice the earlier turns' token ids: the templated history up to the last assistant " +
        `message contains no end-of-turn token (id ${eosTokenId})`,
    );
  }
  const templateCutStart = indexOfNth(template, eosTokenId, eosInPrefix);
  if (templateCutStart < 0) {
    throw new PrefixSpliceError(
      `cannot splice the earlier turns' token ids: the templated prompt has ${countOf(template, eosTokenId)} ` +
        `end-of-turn tokens but the history up to the last assistant message has ${eosInPrefix}; ` +
        "the chat template is not prefix-preserving for this conversation",
    );
  }
  return [...modelPrefix.slice(0, modelCutEnd), ...template.slice(templateCutStart)];
}

/**
 * The prefix the model actually produced, read from the last message that carries token ids
 * (NeMo RL scans messages in reverse for `prompt_token_ids`). Null on a first turn.
 *
 * The splice keeps the template only after the last assistant turn, so the id-carrying message
 * must be that turn: an assistant turn after it without ids would be replaced by nothing, and the
 * turns between would vanish from the prompt with no later check able to see it.
 */
export function requiredPrefixFromMessages(messages: ReadonlyArray<object>): number[] | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { prompt_token_ids?: unknown; generation_token_ids?: unknown };
    if (m.prompt_token_ids != null) {
      if (!isIdList(m.prompt_token_ids) || !isIdList(m.generation_token_ids)) {
        throw new PrefixSpliceError(
          `messages[${i}] has prompt_token_ids but no valid generation_token_ids; ` +
            "send all token fields of a turn together, as lists of non-negative integers",
          `messages[${i}]`,
        );
      }
      checkIdsOnLastAssistant(messages, i);
      return [...m.prompt_token_ids, ...m.generation_token_ids];
    }
  }
  return null;
}

function checkIdsOnLastAssistant(messages: ReadonlyArray<object>, withIds: number): void {
  const roleOf = (i: number) => (messages[i] as { role?: unknown }).role;
  if (roleOf(withIds) !== "assistant") {
    throw new PrefixSpliceError(
      `messages[${withIds}] (${String(roleOf(withIds))}) carries prompt_token_ids, but only assistant turns may`,
      `messages[${withIds}]`,
    );
  }
  for (let j = withIds + 1; j < messages.length; j++) {
    if (roleOf(j) !== "assistant") continue;
    throw new PrefixSpliceError(
      `messages[${j}] (assistant) has no token ids but comes after messages[${withIds}], the last turn that has them: ` +
        `splicing from messages[${withIds}]'s ids would leave messages[${withIds + 1}] to messages[${j}] out of the prompt. ` +
        "Send every assistant turn back with its prompt_token_ids and generation_token_ids, or none with them",
      `messages[${j}]`,
    );
  }
}

function isIdList(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((v) => Number.isInteger(v) && v >= 0);
}

function countOf(ids: readonly number[], id: number): number {
  let n = 0;
  for (const x of ids) if (x === id) n++;
  return n;
}

/** Index of the n-th (1-based) occurrence of id, or -1. */
function indexOfNth(ids: readonly number[], id: number, n: number): number {
  let seen = 0;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] === id && ++seen === n) return i;
  }
  return -1;
}
