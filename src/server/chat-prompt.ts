/**
 * Chat messages → the prompt token ids the engine sees: the chat template renders the request,
 * then, when earlier turns carry token ids, the on-policy splice replaces the templated history
 * with the ids the model actually produced. `/v1/chat/completions` and `/tokenize` share this.
 */
import { PrefixSpliceError, requiredPrefixFromMessages, spliceAtEosCount } from "./prefix-splice.ts";
import { badRequest } from "./errors.ts";
import type { ChatMessageWire, ToolWire } from "./wire.ts";

/** What the server needs of the tokenizer layer. */
export interface ChatTokenizer {
  readonly eosTokenId: number;
  /** The EOS token's text; in text rendered from a protected chat each occurrence is one EOS id. */
  readonly eosToken: string;
  readonly vocabSize: number;
  /** Raw prompt text (completions, /tokenize with a prompt): special-token text becomes the token. */
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /**
   * The request's messages and tools as they are to be rendered, and the encoder for text rendered
   * from them: special-token text inside the request's own strings stays text, so only the
   * template's markers become ids (unless the server allows it: --allow-special-tokens-in-content).
   */
  protectChat(options: { messages: readonly ChatMessageWire[]; tools?: readonly ToolWire[]; templateKwargs?: Record<string, unknown> }): ProtectedChatWire;
  /** Render with the model's chat template (specials in the output are real markers). */
  renderChat(options: {
    messages: readonly ChatMessageWire[];
    tools?: readonly ToolWire[];
    addGenerationPrompt: boolean;
    templateKwargs?: Record<string, unknown>;
  }): string;
}

export interface ProtectedChatWire {
  /** Index-aligned with the request's messages. */
  messages: readonly ChatMessageWire[];
  tools: readonly ToolWire[] | undefined;
  /** Text rendered from `messages` and `tools`, or a slice of it, → ids. */
  encode(text: string): number[];
}

export interface ChatPromptRequest {
  messages: readonly ChatMessageWire[];
  tools?: readonly ToolWire[] | null;
  addGenerationPrompt: boolean;
  templateKwargs?: Record<string, unknown> | null;
  /** Explicit prefix (NeMo RL's `required_prefix_token_ids`); else derived from the messages. */
  requiredPrefixTokenIds?: readonly number[] | null;
}

export interface ChatPrompt {
  promptTokenIds: number[];
  /** True when earlier turns' token ids replaced their templated form. */
  spliced: boolean;
}

export function buildChatPrompt(tok: ChatTokenizer, req: ChatPromptRequest): ChatPrompt {
  const templateKwargs = req.templateKwargs ?? undefined;
  // Rendered text comes from the protected chat only, so every marker in it (the EOS counted
  // below included) is the template's own.
  const chat = tok.protectChat({ messages: req.messages, tools: req.tools ?? undefined, templateKwargs });
  const messages = chat.messages;
  const render = (msgs: readonly ChatMessageWire[], addGenerationPrompt: boolean) =>
    tok.renderChat({ messages: msgs, tools: chat.tools, addGenerationPrompt, templateKwargs });

  const text = render(messages, req.addGenerationPrompt);
  let prefix: number[] | null;
  try {
    prefix = req.requiredPrefixTokenIds ? [...req.requiredPrefixTokenIds] : requiredPrefixFromMessages(req.messages);
  } catch (e) {
    if (e instanceof PrefixSpliceError) throw badRequest(e.message, e.param);
    throw e;
  }
  if (!prefix || prefix.length === 0) return { promptTokenIds: chat.encode(text), spliced: false };

  checkIds(prefix, tok.vocabSize);
  let lastAssistant = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === "assistant") {
      lastAssistant = i;
      break;
    }
  }
  // Only the history's EOS count matters to the splice: count it in the text, no second encode.
  const templatePrefix = render(lastAssistant >= 0 ? messages.slice(0, lastAssistant + 1) : messages, false);
  const eosInPrefix = countOccurrences(templatePrefix, tok.eosToken);
  try {
    // The EOS is a special token, so the text splits there before BPE: encoding the text from the
    // N-th EOS on gives exactly the template's ids from that EOS on, and the history (which grows
    // with every turn) is never encoded at all.
    const cut = indexOfNth(text, tok.eosToken, eosInPrefix);
    if (cut >= 0 && eosInPrefix > 0) {
      const rest = chat.encode(text.slice(cut));
      if (rest[0] === tok.eosTokenId) return { promptTokenIds: spliceAtEosCount(prefix, 1, rest, tok.eosTokenId), spliced: true };
    }
    // Not the shape above (e.g. no EOS where expected): the general path, which explains failures.
    return { promptTokenIds: spliceAtEosCount(prefix, eosInPrefix, chat.encode(text), tok.eosTokenId), spliced: true };
  } catch (e) {
    if (e instanceof PrefixSpliceError) throw badRequest(e.message, e.param);
    throw e;
  }
}

function countOccurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Index of the n-th (1-based) occurrence of needle in text, or -1. */
function indexOfNth(text: string, needle: string, n: number): number {
  let at = -1;
  for (let k = 0; k < n; k++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) return -1;
  }
  return at;
}

function checkIds(ids: readonly number[], vocabSize: number): void {
  for (const id of ids) {
    if (id >= vocabSize) throw badRequest(`token id ${id} is outside the vocabulary (size ${vocabSize})`, "messages");
  }
}
