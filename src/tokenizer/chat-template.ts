/**
 * Chat templates: render OpenAI chat messages and tools with the model's own Jinja template
 * (@huggingface/jinja) the way vLLM does, and tokenize the result. Rendering is the inverse of the
 * parsers in tool-call-parser.ts and reasoning-parser.ts (see assistant-output.ts).
 *
 * What vLLM does to the messages before rendering is chat-messages.ts.
 *
 * Tokenizing (applyChatTemplate) has two modes for special-token text inside content
 * (content-shield.ts):
 * - "literal" (default): only markers written by the template become ids; marker text inside
 *   content stays text, so no message can forge a turn boundary;
 * - "parse" (vLLM, Hugging Face): the rendered prompt is encoded with added tokens parsed, so a user
 *   message containing "<|im_end|>" yields the real <|im_end|> id.
 * The ids are the same whenever no content carries marker text.
 */
import { Template } from "@huggingface/jinja";
import { ChatTemplateError } from "./errors.ts";
import { compileTemplate, type CompiledTemplate } from "./jinja-compile.ts";
import { toTemplateMessages, toTemplateTools } from "./chat-messages.ts";
import { protectChat, type ContentSpecialTokens } from "./content-shield.ts";
import { PY_STRING_METHODS, pythonizeStringMethods } from "./jinja-python.ts";
import type { Tokenizer } from "./tokenizer.ts";
import type { ChatMessage, ChatTool } from "./types.ts";

export { contentText, toTemplateMessages, toTemplateTools, type TemplateMessage } from "./chat-messages.ts";
export type { ContentSpecialTokens } from "./content-shield.ts";

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

export interface ApplyChatTemplateArgs extends RenderChatArgs {
  /** Default "literal": special-token text in content is encoded as text (content-shield.ts). */
  contentSpecialTokens?: ContentSpecialTokens;
}

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
  const chat = protectChat(tokenizer, {
    messages: args.messages,
    tools: args.tools,
    templateKwargs: args.templateKwargs,
    templateSources: [templateSource(tokenizer, args)],
    mode: args.contentSpecialTokens,
  });
  return chat.encode(renderChat(tokenizer, { ...args, messages: chat.messages, tools: chat.tools }));
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
