/**
 * Chat conversations for SFT: reading `{"messages": [...], "tools"?: [...]}` JSONL lines (the OpenAI
 * chat shape) and rendering each chat with the model's chat template (a model directory's, or the
 * bundled Qwen3's) into token sequences whose mask covers the assistant tokens only.
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import type { SftExample } from "../model/sft.ts";
import { readJsonl } from "../rollout/jsonl.ts";
import { type ChatFormat, type ChatMessage, type ChatTool, Tokenizer, applyChatTemplate } from "../tokenizer/index.ts";

const ChatLineSchema = z.looseObject({
  messages: z.array(z.looseObject({ role: z.enum(["system", "developer", "user", "assistant", "tool"]) })).min(1),
  tools: z.array(z.unknown()).nullable().optional(),
});

export interface Chat {
  messages: ChatMessage[];
  tools?: ChatTool[] | null;
}

export function readChats(path: string): Chat[] {
  const chats: Chat[] = [];
  for (const { line, value } of readJsonl(path)) {
    const r = ChatLineSchema.safeParse(value);
    if (!r.success) throw new Error(`${path}:${line}: expected {"messages": [{role, content}, ...]}: ${r.error.issues[0]?.message}`);
    chats.push(value as Chat);
  }
  if (chats.length === 0) throw new Error(`${path} holds no conversations`);
  return chats;
}

function startsWith(a: number[], prefix: number[]): boolean {
  if (prefix.length > a.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

/**
 * Renders a chat into training examples. Assistant turn i spans the tokens between the render of
 * messages[0..i) with the generation prompt and the render of messages[0..i], cut after its
 * turn-end token (<|im_end|>, <|eot_id|>; what the template writes after it is not trained on). When each turn's render
 * extends into the full chat's render, the chat is one example with every assistant span masked;
 * otherwise (Qwen3 drops the reasoning of turns before the last user message) each assistant turn
 * becomes its own example, exactly as the model saw it when generating that turn.
 */
export function chatToExamples(source: Tokenizer | ChatFormat, chat: Chat): SftExample[] {
  const tools = chat.tools ?? null;
  // A model directory's chat format renders with its template and ends turns with its own token
  // (<|eot_id|> for Llama 3); a bare tokenizer's eos ends them (Qwen3's <|im_end|>).
  const format = source instanceof Tokenizer ? null : source;
  const tok = format ? format.tokenizer : (source as Tokenizer);
  const render = (messages: ChatMessage[], gen: boolean) =>
    format
      ? format.chatTemplate.encode({ messages, tools, addGenerationPrompt: gen })
      : applyChatTemplate(tok, { messages, tools, addGenerationPrompt: gen });
  const endId = format ? format.turnEnd.id : (tok.eosTokenId ?? -1);
  const spans: { through: number[]; start: number; end: number }[] = [];
  chat.messages.forEach((m, i) => {
    if (m.role !== "assistant") return;
    const prompt = render(chat.messages.slice(0, i), true);
    const through = render(chat.messages.slice(0, i + 1), false);
    if (!startsWith(through, prompt)) throw new Error(`assistant turn ${i}: its render does not extend the prompt before it`);
    let end = through.length;
    const lastEnd = through.lastIndexOf(endId);
    if (lastEnd >= prompt.length) end = lastEnd + 1;
    spans.push({ through, start: prompt.length, end });
  });
  if (spans.length === 0) return [];
  const full = render(chat.messages, false);
  const example = (tokens: number[], ss: typeof spans): SftExample => {
    const mask = new Array<boolean>(tokens.length).fill(false);
    for (const s of ss) for (let t = s.start; t < s.end; t++) mask[t] = true;
    return { tokens, mask };
  };
  if (spans.every((s) => startsWith(full, s.through))) return [example(full, spans)];
  return spans.map((s) => example(s.through.slice(0, s.end), [s]));
}

/**
 * Each conversation of a JSONL file as training examples (chatToExamples), in file order. Rendering
 * is most of an SFT run's start-up (every assistant turn renders the chat up to it twice: 15 s for
 * the workplace demo's 31,500 conversations, 80 s before the tokenizer remembered sections), so the
 * result is kept for the process: a warm start in phases (gymrl demo) renders its data once. The key is the file (path, size, mtime) and the
 * chat format (its tokenizer, which chat-format.ts shares by content, its templates and turn end).
 */
export function fileChatExamples(path: string, format: ChatFormat): SftExample[][] {
  const st = statSync(path);
  const t = format.chatTemplate;
  const key = JSON.stringify([resolve(path), st.size, st.mtimeMs, t.source, t.toolUseSource, format.turnEnd.id]);
  let byKey = renderedFiles.get(format.tokenizer);
  if (!byKey) renderedFiles.set(format.tokenizer, (byKey = new Map()));
  let examples = byKey.get(key);
  if (!examples) {
    examples = readChats(path).map((c) => chatToExamples(format, c));
    byKey.clear(); // one file per tokenizer is kept: a long-lived process reading many files stays small
    byKey.set(key, examples);
  }
  return examples;
}
const renderedFiles = new WeakMap<Tokenizer, Map<string, SftExample[][]>>();
