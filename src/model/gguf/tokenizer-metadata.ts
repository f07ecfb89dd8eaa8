/**
 * The `tokenizer.*` metadata of a GGUF file from a Hugging Face model directory's tokenizer files
 * (tokenizer.json, tokenizer_config.json, chat_template.jinja), as llama.cpp's
 * convert_hf_to_gguf.py writes it for byte-level BPE ("gpt2") tokenizers: one string per id with
 * its token type, the merges, the special ids and the chat template.
 * This reads the files as JSON (the model layer does not load the tokenizer library): the
 * exported vocabulary is the files' own, not gymrl's rendering of it.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

import type { GgufValue } from "./writer.ts";

/** llama_token_type as GGUF stores it (tokenizer.ggml.token_type). */
export const TokenType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export class GgufExportError extends Error {
  override name = "GgufExportError";
}

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

interface TokenizerJson {
  added_tokens?: AddedToken[];
  model?: { type?: string; vocab?: Record<string, number>; merges?: Array<string | [string, string]> };
}

type SpecialToken = string | { content?: string } | null | undefined;

interface TokenizerConfigJson {
  bos_token?: SpecialToken;
  eos_token?: SpecialToken;
  pad_token?: SpecialToken;
  unk_token?: SpecialToken;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  chat_template?: string | Array<{ name: string; template: string }>;
}

export interface TokenizerMetadata {
  /** Number of ids the tokenizer defines (highest id + 1). */
  size: number;
  metadata: Array<[string, GgufValue]>;
}

/** The last few files read, by path, size and mtime: exporting several checkpoints parses a ~10 MB tokenizer.json once. */
const recent = new Map<string, { stamp: string; value: unknown }>();

function readJson(path: string): unknown {
  const st = statSync(path);
  const stamp = `${st.size}:${st.mtimeMs}`;
  const hit = recent.get(path);
  if (hit?.stamp === stamp) return hit.value;
  try {
    const value = JSON.parse(readFileSync(path, "utf8")) as unknown;
    recent.delete(path);
    recent.set(path, { stamp, value });
    if (recent.size > 4) recent.delete(recent.keys().next().value!);
    return value;
  } catch (e) {
    throw new GgufExportError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** convert_hf_to_gguf.py's does_token_look_special: such added tokens are CONTROL even when not marked special. */
function looksSpecial(t: string): boolean {
  return (
    ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(t) ||
    (t.startsWith("<|") && t.endsWith("|>")) ||
    (t.startsWith("<｜") && t.endsWith("｜>")) ||
    (t.startsWith("<unused") && t.endsWith(">"))
  );
}

/** llama.cpp's pre-tokenizer name (tokenizer.ggml.pre) for each family gymrl supports. */
const PRE_TOKENIZER: Record<string, string> = { qwen3: "qwen2", llama: "llama-bpe" };

/**
 * Reads `dir`'s tokenizer files into GGUF metadata. `vocabSize` is the number of ids the GGUF's
 * embedding has (≥ the tokenizer's; the ids past it are "[PADn]", UNUSED, as the converter pads).
 * `modelType` picks the pre-tokenizer and llama.cpp's default for add_bos_token.
 */
export function tokenizerMetadata(dir: string, modelType: "qwen3" | "llama", vocabSize?: number): TokenizerMetadata {
  const tjPath = join(dir, "tokenizer.json");
  if (!existsSync(tjPath)) throw new GgufExportError(`${tjPath}: missing (GGUF export needs the model's tokenizer files)`);
  const tj = readJson(tjPath) as TokenizerJson;
  const model = tj.model;
  if (!model || model.type !== "BPE" || typeof model.vocab !== "object" || !Array.isArray(model.merges)) {
    throw new GgufExportError(`${tjPath}: model must be a BPE model with vocab and merges (got type ${JSON.stringify(model?.type)})`);
  }
  const tcPath = join(dir, "tokenizer_config.json");
  const tc = (existsSync(tcPath) ? readJson(tcPath) : {}) as TokenizerConfigJson;

  const byId = new Map<number, { text: string; type: number }>();
  for (const [text, id] of Object.entries(model.vocab)) byId.set(id, { text, type: TokenType.NORMAL });
  for (const a of tj.added_tokens ?? []) {
    byId.set(a.id, { text: a.content, type: a.special || looksSpecial(a.content) ? TokenType.CONTROL : TokenType.USER_DEFINED });
  }
  let size = 0;
  for (const id of byId.keys()) size = Math.max(size, id + 1);
  const n = vocabSize ?? size;
  if (n < size) throw new GgufExportError(`${tjPath}: defines ids up to ${size - 1}, more than the model's ${n} embedding rows`);
  const tokens: string[] = new Array<string>(n);
  const types = new Int32Array(n);
  for (let id = 0; id < n; id++) {
    const t = byId.get(id);
    tokens[id] = t ? t.text : `[PAD${id}]`;
    types[id] = t ? t.type : TokenType.UNUSED;
  }
  const merges = model.merges.map((m) => (typeof m === "string" ? m : m.join(" ")));

  const idOf = (field: keyof TokenizerConfigJson): number | undefined => {
    const raw = tc[field] as SpecialToken;
    const text = typeof raw === "string" ? raw : raw?.content;
    if (text === undefined || text === null) return undefined;
    const hit = (tj.added_tokens ?? []).find((a) => a.content === text)?.id ?? model.vocab![text];
    if (hit === undefined) throw new GgufExportError(`${tcPath}: ${field} ${JSON.stringify(text)} is not a token of tokenizer.json`);
    return hit;
  };
  const metadata: Array<[string, GgufValue]> = [
    ["tokenizer.ggml.model", { type: "string", value: "gpt2" }],
    ["tokenizer.ggml.pre", { type: "string", value: PRE_TOKENIZER[modelType] }],
    ["tokenizer.ggml.tokens", { type: "string[]", value: tokens }],
    ["tokenizer.ggml.token_type", { type: "i32[]", value: types }],
    ["tokenizer.ggml.merges", { type: "string[]", value: merges }],
  ];
  const specials: Array<[string, keyof TokenizerConfigJson]> = [
    ["tokenizer.ggml.bos_token_id", "bos_token"],
    ["tokenizer.ggml.eos_token_id", "eos_token"],
    ["tokenizer.ggml.unknown_token_id", "unk_token"],
    ["tokenizer.ggml.padding_token_id", "pad_token"],
  ];
  for (const [key, field] of specials) {
    const id = idOf(field);
    if (id !== undefined) metadata.push([key, { type: "u32", value: id }]);
  }
  // Llama 3's tokenizer prepends <|begin_of_text|> through its post-processor, Qwen's adds nothing
  const addBos = typeof tc.add_bos_token === "boolean" ? tc.add_bos_token : modelType === "llama";
  metadata.push(["tokenizer.ggml.add_bos_token", { type: "bool", value: addBos }]);
  if (typeof tc.add_eos_token === "boolean") metadata.push(["tokenizer.ggml.add_eos_token", { type: "bool", value: tc.add_eos_token }]);
  const template = chatTemplate(dir, tc);
  if (template !== null) metadata.push(["tokenizer.chat_template", { type: "string", value: template }]);
  return { size, metadata };
}

function chatTemplate(dir: string, tc: TokenizerConfigJson): string | null {
  const jinja = join(dir, "chat_template.jinja");
  if (existsSync(jinja)) return readFileSync(jinja, "utf8");
  const t = tc.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === "string") return t;
  return t.find((x) => x.name === "default")?.template ?? null;
}
