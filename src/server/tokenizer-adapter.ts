/** The tokenizer layer seen through the two small interfaces the server needs. */
import {
  ChatTemplateError,
  parseAssistantOutput,
  renderChat,
  splitReasoning,
  type ChatMessage,
  type ChatTool,
  type Tokenizer,
} from "../tokenizer/index.ts";
import type { ChatTokenizer } from "./chat-prompt.ts";
import { badRequest } from "./errors.ts";
import type { OutputParser, ParsedToolCall } from "./output.ts";

export function chatTokenizerFrom(tok: Tokenizer): ChatTokenizer {
  if (tok.eosTokenId === null) throw new Error("the tokenizer has no eos token; the on-policy splice needs one");
  const eosTokenId = tok.eosTokenId;
  const eosToken = tok.specialTokenStrings.eos_token;
  if (eosToken === undefined) throw new Error("the tokenizer config names no eos_token");
  return {
    eosTokenId,
    eosToken,
    vocabSize: tok.vocabSize,
    // The templated prompt is encoded with special tokens parsed, as vLLM does, so ids match it.
    encode: (text) => tok.encode(text, { allowSpecial: true }),
    decode: (ids) => tok.decode([...ids], { skipSpecial: true }),
    renderChat: ({ messages, tools, addGenerationPrompt, templateKwargs }) => {
      try {
        return renderChat(tok, {
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

/** vLLM's hermes tool parser and qwen3 reasoning parser, as the tokenizer layer implements them. */
export const qwenOutputParser: OutputParser = {
  parse(text, { parseToolCalls, parseReasoning }) {
    if (parseToolCalls) {
      const m = parseAssistantOutput(text).message;
      const content = typeof m.content === "string" ? m.content : null;
      return { content, reasoningContent: m.reasoning_content ?? null, toolCalls: (m.tool_calls ?? []) as ParsedToolCall[] };
    }
    // Tools were not offered: tool-call text stays in the content, exactly as generated.
    if (!parseReasoning) return { content: text, reasoningContent: null, toolCalls: [] };
    const split = splitReasoning(text);
    switch (split.kind) {
      case "none":
        return { content: split.content, reasoningContent: null, toolCalls: [] };
      case "complete":
        return { content: split.content === "" ? null : split.content, reasoningContent: split.reasoning, toolCalls: [] };
      case "unterminated":
        return { content: null, reasoningContent: split.reasoning, toolCalls: [] };
    }
  },
};
