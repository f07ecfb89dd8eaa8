/**
 * Chat templates: render OpenAI chat messages and tools with the model's own Jinja template
 * (@huggingface/jinja) the way vLLM does, and tokenize the result. Rendering is the inverse of the
 * parsers in tool-call-parser.ts and reasoning-parser.ts (see assistant-output.ts).
 *
 * What vLLM does before rendering, and so what this file does (vLLM `chat_utils.py`):
 * - content `null` becomes "", and an array of text parts is joined with "\n";
 * - tool-call `arguments` arrive as JSON strings and are parsed to objects ("" → {}), so templates
 *   that test `arguments is string` or apply `| tojson` see a mapping (Qwen3 writes `| tojson`);
 * - tools are passed as pydantic dumps them: `{type, function: {name, description, parameters, ...}}`
 *   with a missing description or parameters as null.
 * One difference: a "developer" message is rendered as "system" (Qwen3's template would drop it).
 *
 * Tokenizing (applyChatTemplate) has two modes for special-token text inside content:
 * - "parse" (default, as vLLM): the rendered prompt is encoded with added tokens parsed, so a user
 *   message containing "<|im_end|>" yields the real <|im_end|> id and can forge a turn boundary;
 * - "literal": markers written by the template become ids, but marker text inside user and tool
 *   content is encoded as plain text. Ids equal "parse" whenever no such content carries marker text.
 */
import { Template } from "@huggingface/jinja";
import { ChatTemplateError } from "./errors.ts";
import { compileTemplate, type CompiledTemplate } from "./jinja-compile.ts";
import { PY_STRING_METHODS, pythonizeStringMethods } from "./jinja-python.ts";
import type { Tokenizer } from "./tokenizer.ts";
import type { ChatMessage, ChatTool } from "./types.ts";

export interface RenderChatArgs {
  messages: readonly ChatMessage[];
  tools?: readonly ChatTool[] | null;
  /** Append the assistant header so the model writes the next turn (default false, as transformers). */
  addGenerationPrompt?: boolean;
  /** Extra template variables, vLLM's `chat_template_kwargs`: e.g. `{ enable_thinking: false }`. */
  templateKwargs?: Record<string, unknown>;
  /** A template to use instead of the tokenizer's own. */
  chatTemplate?: string;
}

/** How marker text ("<|im_end|>", "<tool_call>") inside user and tool content is tokenized. */
export type ContentSpecialTokens = "parse" | "literal";

export interface ApplyChatTemplateArgs extends RenderChatArgs {
  contentSpecialTokens?: ContentSpecialTokens;
}

/** The roles whose content "literal" mode treats as untrusted text. */
const UNTRUSTED_ROLES = new Set(["user", "tool"]);

/** The chat as a prompt string. */
export function renderChat(tokenizer: Tokenizer, args: RenderChatArgs): string {
  const source = templateSource(tokenizer, args);
  const context = templateContext(tokenizer, args);
  const { template, compiled } = compile(source);
  try {
    // The compiled renderer answers exactly as the library or not at all (null), see jinja-compile.ts.
    return compiled?.render(context) ?? template.render(context);
  } catch (err) {
    throw new ChatTemplateError(`chat template failed: ${(err as Error).message}`, { cause: err });
  }
}

/** The template source renderChat uses. */
export function templateSource(tokenizer: Tokenizer, args: Pick<RenderChatArgs, "chatTemplate">): string {
  const source = args.chatTemplate ?? tokenizer.chatTemplate;
  if (source === null) throw new ChatTemplateError("the tokenizer has no chat template; pass chatTemplate");
  return source;
}

/** The variables renderChat renders the template with. */
export function templateContext(tokenizer: Tokenizer, args: RenderChatArgs): Record<string, unknown> {
  if (args.messages.length === 0) throw new ChatTemplateError("cannot render an empty chat");
  // Later sources win, as in an object spread. Built by assignment: on Node 20 an object literal
  // mixing spreads and properties costs ~10 µs. The null prototype keeps a "__proto__" key of the
  // kwargs an ordinary key, as a spread would.
  const context: Record<string, unknown> = Object.create(null);
  Object.assign(context, tokenizer.specialTokenStrings, args.templateKwargs);
  context.messages = toTemplateMessages(args.messages);
  context.tools = args.tools ? toTemplateTools(args.tools) : undefined;
  context.add_generation_prompt = args.addGenerationPrompt ?? false;
  return Object.assign(context, PY_STRING_METHODS);
}

/** The chat as prompt token ids: `renderChat`, then encode (see the file comment for the modes). */
export function applyChatTemplate(tokenizer: Tokenizer, args: ApplyChatTemplateArgs): number[] {
  if ((args.contentSpecialTokens ?? "parse") === "parse") {
    return tokenizer.encode(renderChat(tokenizer, args), { allowSpecial: true });
  }
  const shield = shieldUntrustedContent(tokenizer, args);
  if (shield === null) return tokenizer.encode(renderChat(tokenizer, args), { allowSpecial: true });
  return tokenizer.encodeTemplated(renderChat(tokenizer, { ...args, messages: shield.messages }), shield.restore);
}

// ------------------------------------------------------------------------------------------------
// vLLM's message and tool preprocessing

/** A message as the template sees it: content a string, tool-call arguments an object. */
export interface TemplateMessage {
  role: string;
  content: string;
  name?: string;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: unknown } }[];
  tool_call_id?: string;
  reasoning_content?: string | null;
}

export function contentText(content: ChatMessage["content"]): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return content.map((part) => part.text).join("\n");
}

export function toTemplateMessages(messages: readonly ChatMessage[]): TemplateMessage[] {
  return messages.map((m, i) => {
    const out: TemplateMessage = { role: m.role === "developer" ? "system" : m.role, content: contentText(m.content) };
    if (m.name !== undefined) out.name = m.name;
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    if (m.reasoning_content !== undefined) out.reasoning_content = m.reasoning_content;
    if (m.tool_calls) {
      out.tool_calls = m.tool_calls.map((call, j) => ({
        id: call.id,
        type: call.type ?? "function",
        function: { name: call.function.name, arguments: parseArguments(call.function.arguments, i, j) },
      }));
    }
    return out;
  });
}

function parseArguments(args: unknown, i: number, j: number): unknown {
  if (typeof args !== "string") return args ?? {}; // already a mapping (or missing)
  if (args.trim() === "") return {};
  try {
    return JSON.parse(args);
  } catch {
    throw new ChatTemplateError(`messages[${i}].tool_calls[${j}].function.arguments is not valid JSON: ${args}`);
  }
}

export function toTemplateTools(tools: readonly ChatTool[]): unknown[] {
  return tools.map((tool) => {
    const { type, function: fn, ...topExtra } = tool;
    const { name, description, parameters, ...fnExtra } = fn;
    return {
      type: type ?? "function",
      function: { name, description: description ?? null, parameters: parameters ?? null, ...fnExtra },
      ...topExtra,
    };
  });
}

// ------------------------------------------------------------------------------------------------
// template compilation, cached by source; strip/lstrip/rstrip get Python semantics (jinja-python.ts)

interface CachedTemplate {
  template: Template;
  /** The same template compiled to closures (jinja-compile.ts); null when it uses an uncovered construct. */
  compiled: CompiledTemplate | null;
}

const templates = new Map<string, CachedTemplate>();

function compile(source: string): CachedTemplate {
  let t = templates.get(source);
  if (t === undefined) {
    let template: Template;
    try {
      template = new Template(source);
      pythonizeStringMethods(template.parsed);
    } catch (err) {
      throw new ChatTemplateError(`chat template does not parse: ${(err as Error).message}`, { cause: err });
    }
    t = { template, compiled: compileTemplate(template.parsed) };
    templates.set(source, t);
  }
  return t;
}

// ------------------------------------------------------------------------------------------------
// "literal" mode: hide marker text of untrusted content behind placeholders, restore after splitting

/**
 * Replace every added-token text inside user and tool content with a placeholder character (one per
 * token, from the private-use area, chosen so it appears nowhere in the template or the chat), so
 * the rendered prompt holds real markers only where the template wrote them. `restore` undoes the
 * replacement inside one piece of text. null when no untrusted content carries marker text.
 */
function shieldUntrustedContent(
  tokenizer: Tokenizer,
  args: RenderChatArgs,
): { messages: ChatMessage[]; restore: (piece: string) => string } | null {
  const literals = [...tokenizer.addedTokens.keys()].sort((a, b) => b.length - a.length);
  if (literals.length === 0) return null;
  const literalPattern = new RegExp(literals.map(escapeRegExp).join("|"), "g");
  const untrusted = (m: ChatMessage) =>
    UNTRUSTED_ROLES.has(m.role) && contentText(m.content).search(literalPattern) >= 0;
  if (!args.messages.some(untrusted)) return null;

  const seen =
    (args.chatTemplate ?? tokenizer.chatTemplate ?? "") + JSON.stringify([args.messages, args.tools, args.templateKwargs]);
  const placeholderOf = new Map<string, string>();
  const literalOf = new Map<string, string>();
  for (let code = 0xe000; placeholderOf.size < literals.length; code++) {
    if (code > 0xf8ff) throw new ChatTemplateError("no free private-use characters for literal mode");
    const ch = String.fromCharCode(code);
    if (seen.includes(ch)) continue;
    const literal = literals[placeholderOf.size];
    placeholderOf.set(literal, ch);
    literalOf.set(ch, literal);
  }
  const placeholderPattern = new RegExp(`[${[...literalOf.keys()].join("")}]`, "g");

  const shield = (s: string) => s.replace(literalPattern, (lit) => placeholderOf.get(lit)!);
  const messages = args.messages.map((m) => (untrusted(m) ? { ...m, content: shield(contentText(m.content)) } : m));
  const restore = (piece: string) => piece.replace(placeholderPattern, (ch) => literalOf.get(ch)!);
  return { messages, restore };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
