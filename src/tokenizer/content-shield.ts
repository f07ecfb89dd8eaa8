/**
 * Content cannot forge special tokens: before a chat is rendered, special-token text inside the
 * request's own strings ("<|im_end|>" in a user message, a tool result, a tool-call argument) is
 * swapped for placeholder characters, so the rendered prompt holds real markers only where the
 * template wrote them. The prompt is then split at those markers and every piece between them is
 * encoded as plain text with its placeholders put back (Tokenizer.encodeTemplated): one encode, no
 * second tokenization, and the decoded text is the same as without the shield.
 *
 * What counts as marker text, by where it sits:
 * - user and tool messages (text from people and environments): every added token, special or not,
 *   so a tool result can write neither "<|im_start|>assistant" nor a "<tool_call>" of its own;
 * - system / developer / assistant messages (content, reasoning_content, name), tool-call names and
 *   arguments (keys and values, after JSON parsing, so "\u003c|im_end|>" is caught too) and the tool
 *   definitions: added tokens marked `special` (<|im_start|>, <|im_end|>, <|endoftext|>; every Llama 3
 *   marker). The model's own non-special markup (<think>, <tool_call>) stays markup there: templates
 *   read it (Qwen3 splits an assistant's content at "</think>") and the model writes it.
 * Chats without such text (nearly all) skip the shield: a scan of their strings, then the plain encode.
 *
 * Mode "parse" is vLLM's and Hugging Face's behaviour (special-token text anywhere becomes the token);
 * the server offers it only behind `--allow-special-tokens-in-content`, for parity tests.
 */
import { contentText, parseArguments } from "./chat-messages.ts";
import { ChatTemplateError } from "./errors.ts";
import type { Tokenizer } from "./tokenizer.ts";
import type { ChatMessage, ChatTool } from "./types.ts";

/** How special-token text inside message content is tokenized: as text ("literal") or as the token ("parse", vLLM). */
export type ContentSpecialTokens = "parse" | "literal";

export interface ProtectChatArgs {
  messages: readonly ChatMessage[];
  tools?: readonly ChatTool[] | null;
  templateKwargs?: Record<string, unknown>;
  /** Every template source the chat may be rendered with: placeholders are chosen outside them. */
  templateSources: readonly string[];
  /** Default "literal". */
  mode?: ContentSpecialTokens;
}

/** A chat ready to render: render `messages` and `tools`, then encode the text with `encode`. */
export interface ProtectedChat {
  /** Index-aligned with the request's messages; copies where text was hidden. */
  messages: readonly ChatMessage[];
  tools: readonly ChatTool[] | null | undefined;
  /** Text rendered from `messages` and `tools` (or any slice of it) → ids: template markers are ids, content is text. */
  encode(text: string): number[];
  /** True when some content held marker text (the slower, split encode is in use). */
  shielded: boolean;
}

/** The roles whose content is untrusted text: no added token of any kind may come out of it. */
const UNTRUSTED_ROLES = new Set(["user", "tool"]);

interface Patterns {
  /** Every added token's text, longest first (non-global, for tests). */
  all: RegExp | null;
  /** Added tokens marked special. */
  special: RegExp | null;
  /** Every added token's text, longest first: placeholders are assigned in this order. */
  literals: string[];
}

const patternsOf = new WeakMap<Tokenizer, Patterns>();

function patterns(tok: Tokenizer): Patterns {
  let p = patternsOf.get(tok);
  if (p === undefined) {
    const literals = [...tok.addedTokens.keys()].sort((a, b) => b.length - a.length);
    const special = literals.filter((l) => tok.specialIds.has(tok.addedTokens.get(l)!));
    const re = (ls: string[]) => (ls.length ? new RegExp(ls.map(escapeRegExp).join("|")) : null);
    p = { all: re(literals), special: re(special), literals };
    patternsOf.set(tok, p);
  }
  return p;
}

export function protectChat(tok: Tokenizer, args: ProtectChatArgs): ProtectedChat {
  const plain: ProtectedChat = {
    messages: args.messages,
    tools: args.tools,
    encode: (text) => tok.encode(text, { allowSpecial: true }),
    shielded: false,
  };
  if ((args.mode ?? "literal") === "parse") return plain;
  const p = patterns(tok);
  if (p.all === null) return plain;
  const patternFor = (role: string) => (UNTRUSTED_ROLES.has(role) ? p.all : p.special);
  const found = args.messages.some((m) => messageHas(m, patternFor(m.role))) || (p.special !== null && (args.tools ?? []).some((t) => valueHas(t, p.special!)));
  if (!found) return plain;

  const { placeholderOf, restore } = placeholders(p.literals, args);
  const shieldWith = (re: RegExp | null) => {
    if (re === null) return (s: string) => s;
    const g = new RegExp(re.source, "g");
    return (s: string) => s.replace(g, (lit) => placeholderOf.get(lit)!);
  };
  const shieldAll = shieldWith(p.all);
  const shieldSpecial = shieldWith(p.special);
  const messages = args.messages.map((m, i) => {
    const shield = UNTRUSTED_ROLES.has(m.role) ? shieldAll : shieldSpecial;
    const out: ChatMessage = { ...m, content: shield(contentText(m.content)) };
    if (typeof m.reasoning_content === "string") out.reasoning_content = shield(m.reasoning_content);
    if (typeof m.name === "string") out.name = shield(m.name);
    if (typeof m.tool_call_id === "string") out.tool_call_id = shield(m.tool_call_id);
    if (m.tool_calls) {
      out.tool_calls = m.tool_calls.map((call, j) => ({
        ...call,
        function: {
          ...call.function,
          name: shield(call.function.name),
          // parsed here (as the template would see it) so escaped marker text is caught; the
          // template passes a non-string through unchanged
          arguments: deepMap(parseArguments(call.function.arguments, i, j), shield) as string,
        },
      }));
    }
    return out;
  });
  const tools = args.tools ? (args.tools.map((t) => deepMap(t, shieldSpecial)) as ChatTool[]) : args.tools;
  return { messages, tools, encode: (text) => tok.encodeTemplated(text, restore), shielded: true };
}

// ------------------------------------------------------------------------------------------------

function messageHas(m: ChatMessage, re: RegExp | null): boolean {
  if (re === null) return false;
  if (typeof m.content === "string") {
    if (re.test(m.content)) return true;
  } else if (Array.isArray(m.content)) {
    for (const part of m.content) if (typeof part.text === "string" && re.test(part.text)) return true;
  }
  if (typeof m.reasoning_content === "string" && re.test(m.reasoning_content)) return true;
  if (typeof m.name === "string" && re.test(m.name)) return true;
  if (typeof m.tool_call_id === "string" && re.test(m.tool_call_id)) return true;
  for (const call of m.tool_calls ?? []) {
    if (re.test(call.function.name)) return true;
    const a: unknown = call.function.arguments;
    if (typeof a !== "string") {
      if (valueHas(a, re)) return true;
    } else if (re.test(a)) return true;
    else if (a.includes("\\u")) {
      // JSON escapes can spell marker text that only appears once parsed
      try {
        if (valueHas(JSON.parse(a), re)) return true;
      } catch {
        // invalid JSON: rendering reports it, naming the field
      }
    }
  }
  return false;
}

function valueHas(v: unknown, re: RegExp): boolean {
  if (typeof v === "string") return re.test(v);
  if (Array.isArray(v)) return v.some((x) => valueHas(x, re));
  if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) if (re.test(k) || valueHas(x, re)) return true;
  }
  return false;
}

/** Strings (object keys included) mapped through f; everything else as it was. */
function deepMap(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === "string") return f(v);
  if (Array.isArray(v)) return v.map((x) => deepMap(x, f));
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[f(k)] = deepMap(x, f);
    return out;
  }
  return v;
}

/**
 * One private-use character per added token, none of which occurs in the templates or the request
 * (the rendered text is made of those and the tokenizer's special-token strings), and the function
 * that turns placeholders in a piece of rendered text back into the token texts.
 */
function placeholders(literals: readonly string[], args: ProtectChatArgs): { placeholderOf: Map<string, string>; restore: (piece: string) => string } {
  const used = new Set<string>();
  const scan = (s: string) => {
    for (const m of s.matchAll(/[\uE000-\uF8FF]/g)) used.add(m[0]);
  };
  for (const s of args.templateSources) scan(s);
  scan(JSON.stringify([args.messages, args.tools ?? null, args.templateKwargs ?? null]));
  const placeholderOf = new Map<string, string>();
  const literalOf = new Map<string, string>();
  for (let code = 0xe000; placeholderOf.size < literals.length; code++) {
    if (code > 0xf8ff) throw new ChatTemplateError("no free private-use characters to hide special-token text in content");
    const ch = String.fromCharCode(code);
    if (used.has(ch)) continue;
    const literal = literals[placeholderOf.size];
    placeholderOf.set(literal, ch);
    literalOf.set(ch, literal);
  }
  const pattern = new RegExp(`[${[...literalOf.keys()].join("")}]`, "g");
  return { placeholderOf, restore: (piece) => piece.replace(pattern, (ch) => literalOf.get(ch)!) };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
