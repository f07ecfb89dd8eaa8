/** @module tokenizer: HF tokenizer + chat template, tool-call and reasoning parsers. See README.md. */
export type { ChatContentPartText, ChatMessage, ChatRole, ChatTool, ChatToolCall } from "./types.ts";
export { ChatTemplateError, TokenizerError } from "./errors.ts";
export { Tokenizer, type DecodeOptions, type EncodeOptions, type SpecialTokenStrings } from "./tokenizer.ts";
export { loadQwen3Tokenizer, loadTokenizer, qwen3TokenizerDir } from "./load.ts";
export {
  applyChatTemplate,
  contentText,
  renderChat,
  toTemplateMessages,
  toTemplateTools,
  type ApplyChatTemplateArgs,
  type ContentSpecialTokens,
  type RenderChatArgs,
  type TemplateMessage,
} from "./chat-template.ts";
export { protectChat, type ProtectChatArgs, type ProtectedChat } from "./content-shield.ts";
export {
  makeToolCallId,
  parseToolCalls,
  TOOL_CALL_END,
  TOOL_CALL_START,
  type MalformedReason,
  type MalformedToolCall,
  type ParseToolCallsOptions,
  type ToolCallParse,
} from "./tool-call-parser.ts";
export { joinReasoning, splitReasoning, THINK_END, THINK_START, type ReasoningSplit } from "./reasoning-parser.ts";
export {
  parseAssistantOutput,
  type AssistantOutput,
  type ParseAssistantOptions,
  type ParseStyle,
} from "./assistant-output.ts";
export { pyJsonDumps } from "./py-json.ts";
export { loadChatFormat, type ChatFormat, type ChatFormatTemplate, type ModelFamily } from "./chat-format.ts";
export { llama3OutputParser, qwen3OutputParser, type ChatOutputParser, type ParsedOutput } from "./output-parser.ts";
export {
  LLAMA3_PYTHON_TAG,
  looksLikeLlama3ToolCall,
  parseLlama3ToolCalls,
  type Llama3MalformedReason,
  type Llama3ToolCallParse,
} from "./llama3-tool-parser.ts";
