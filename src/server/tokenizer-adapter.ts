/** The tokenizer layer seen through the two small interfaces the server needs. */
import {
  ChatTemplateError,
  protectChat,
  qwen3OutputParser,
  renderChat,
  type ContentSpecialTokens,
  type ChatFormat,
  type ChatMessage,
  type ChatOutputParser,
  type ChatTool,
  type RenderChatArgs,
  type Tokenizer,
} from "../tokenizer/index.ts";
import type { ChatTokenizer } from "./chat-prompt.ts";
import { badRequest } from "./errors.ts";
import type { OutputParser, ParsedToolCall } from "./output.ts";

export interface ChatTokenizerOptions {
  /**
   * "literal" (default): special-token text inside message content, tool-call arguments and tools
   * is encoded as text; "parse": as the token, as vLLM does (`--allow-special-tokens-in-content`).
   */
  contentSpecialTokens?: ContentSpecialTokens;
}

/**
 * A ChatTokenizer over a model directory's chat format (its template, and the token that ends each
 * message for the splice), or over a bare tokenizer whose eos ends messages (Qwen3's <|im_end|>).
 */
export function chatTokenizerFrom(source: Tokenizer | ChatFormat, options: ChatTokenizerOptions = {}): ChatTokenizer {
  const format = "turnEnd" in source ? source : null;
  const tok = format ? format.tokenizer : (source as Tokenizer);
  let turnEnd: { token: string; id: number };
  if (format) turnEnd = format.turnEnd;
  else {
    if (tok.eosTokenId === null) throw new Error("the tokenizer has no eos token; the on-policy splice needs one");
    const eosToken = tok.specialTokenStrings.eos_token;
    if (eosToken === undefined) throw new Error("the tokenizer config names no eos_token");
    turnEnd = { token: eosToken, id: tok.eosTokenId };
  }
  const render = format ? (args: RenderChatArgs) => format.chatTemplate.render(args) : (args: RenderChatArgs) => renderChat(tok, args);
  const templateSources = format ? [format.chatTemplate.source, format.chatTemplate.toolUseSource ?? ""] : [tok.chatTemplate ?? ""];
  const mode = options.contentSpecialTokens ?? "literal";
  return {
    eosTokenId: turnEnd.id,
    eosToken: turnEnd.token,
    vocabSize: tok.vocabSize,
    // The templated prompt is encoded with special tokens parsed, as vLLM does, so ids match it.
    encode: (text) => tok.encode(text, { allowSpecial: true }),
    // Ids past the tokenizer's (a checkpoint's padding rows, e.g. Qwen3's 151669..151935) decode to
    // nothing, as in vLLM, instead of failing the request.
    decode: (ids) => tok.decode(ids.every((id) => id < tok.vocabSize) ? [...ids] : ids.filter((id) => id < tok.vocabSize), { skipSpecial: true }),
    protectChat: ({ messages, tools, templateKwargs }) => {
      try {
        const chat = protectChat(tok, {
          messages: messages as unknown as ChatMessage[],
          tools: tools as unknown as ChatTool[] | undefined,
          templateKwargs,
          templateSources,
          mode,
        });
        return chat as unknown as ReturnType<ChatTokenizer["protectChat"]>;
      } catch (e) {
        if (e instanceof ChatTemplateError) throw badRequest(e.message, "messages");
        throw e;
      }
    },
    renderChat: ({ messages, tools, addGenerationPrompt, templateKwargs }) => {
      try {
        return render({
          messages: messages as unknown as ChatMessage[],
          tools: tools as unknown as ChatTool[] | undefined,
          addGenerationPrompt,
          templateKwargs,
        });
      } catch (e) {
        if (e instanceof ChatTemplateError) throw badRequest(e.message, "messages");
        throw e;
      }
    },
  };
}

/** The server's OutputParser over a family's parser (tokenizer layer). */
export function outputParserFrom(parser: ChatOutputParser): OutputParser {
  return {
    parse: (text, options) => {
      const r = parser.parse(text, options);
      return { content: r.content, reasoningContent: r.reasoningContent, toolCalls: r.toolCalls as ParsedToolCall[] };
    },
    ...(parser.streamablePrefix ? { streamablePrefix: parser.streamablePrefix.bind(parser) } : {}),
  };
}

/** vLLM's hermes tool parser and qwen3 reasoning parser, as the tokenizer layer implements them. */
export const qwenOutputParser: OutputParser = outputParserFrom(qwen3OutputParser);
