/**
 * Chat messages and tools in the OpenAI Chat Completions wire shape (snake_case, as on the wire).
 * The tokenizer layer renders and parses these; the HTTP server reuses them. Not the Responses API
 * shape: converting Responses items to chat messages belongs to the model proxy in src/gym.
 */

export type ChatRole = "system" | "developer" | "user" | "assistant" | "tool";

/** A text part of a message's content array. Other part types (images) are not supported. */
export interface ChatContentPartText {
  type: "text";
  text: string;
}

/** One tool call of an assistant message. `arguments` is a JSON object serialized to a string. */
export interface ChatToolCall {
  id: string;
  type: "function";
  function: {
    name: string;
    /** JSON text, e.g. `{"expr": "315 * 3"}`; parsed to an object before the template sees it. */
    arguments: string;
  };
}

export interface ChatMessage {
  role: ChatRole;
  /** null is allowed on assistant messages that only call tools; a part array is joined with "\n". */
  content: string | ChatContentPartText[] | null;
  /** Optional participant name (OpenAI `name`). */
  name?: string;
  /** Assistant only. */
  tool_calls?: ChatToolCall[];
  /** Tool only: the id of the call this message answers. */
  tool_call_id?: string;
  /** Assistant only: the text between `<think>` and `</think>` (vLLM's `reasoning_content`). */
  reasoning_content?: string | null;
}

/** A function tool as sent in `tools` of a chat completion request. */
export interface ChatTool {
  type: "function";
  function: {
    name: string;
    description?: string | null;
    /** JSON Schema of the arguments object. */
    parameters?: Record<string, unknown> | null;
    strict?: boolean | null;
    [extra: string]: unknown;
  };
}
