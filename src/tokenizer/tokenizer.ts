/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) behind a small camelCase API,
 * wrapping @huggingface/tokenizers. Encode and decode side by side; three encode paths:
 *
 * - `encode(text)`: added tokens written in the text ("<|im_end|>", "<tool_call>") become their ids.
 *   Use it for text whose markers are meant: a rendered chat template (vLLM encodes its prompts
 *   this way), or model output being re-encoded.
 * - `encodeUntrusted(text)` (= `encode(text, { allowSpecial: false })`): the text is plain text, and
 *   no added-token id can come out of it; "<|im_end|>" is encoded as the bytes "<", "|", "im", ...
 *   Use it for user content and tool output that are tokenized on their own.
 * - `encodeTemplated(text, restore)`: markers in `text` become ids, then each piece between markers
 *   is passed through `restore` and encoded as plain text. The chat template's "literal" mode uses it
 *   so that markers written by the template count and markers inside user/tool content do not.
 *
 * No path adds BOS/EOS: the chat template owns them (Qwen3 has no BOS).
 * Not here: chat templates (chat-template.ts), output parsing (the *-parser.ts files).
 */
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { TokenizerError } from "./errors.ts";
import { installPreTokenizerSpeedups } from "./pre-tokenizer-speedups.ts";

/** The fields of tokenizer.json that this wrapper reads itself; the rest goes to the library. */
export interface TokenizerJson {
  added_tokens?: AddedTokenJson[];
  model: object;
  [key: string]: unknown;
}

export interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
  normalized?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  single_word?: boolean;
}

/** A special token in tokenizer_config.json: a string, or an AddedToken object with `content`. */
type ConfigToken = string | { content: string } | null | undefined;

export interface TokenizerConfigJson {
  bos_token?: ConfigToken;
  eos_token?: ConfigToken;
  pad_token?: ConfigToken;
  unk_token?: ConfigToken;
  chat_template?: string | { name: string; template: string }[] | null;
  remove_space?: boolean | null;
  do_lowercase_and_remove_accent?: boolean;
  [key: string]: unknown;
}

export interface EncodeOptions {
  /** true (default): added tokens written in the text become their ids. false: see encodeUntrusted. */
  allowSpecial?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (added tokens marked `special`, e.g. <|im_end|>; not <think> or <tool_call>). */
  skipSpecial?: boolean;
}

/** The special-token strings a chat template may use (`eos_token`, ...), as transformers passes them. */
export interface SpecialTokenStrings {
  bos_token?: string;
  eos_token?: string;
  pad_token?: string;
  unk_token?: string;
}

function tokenContent(t: ConfigToken): string | undefined {
  if (t === null || t === undefined) return undefined;
  return typeof t === "string" ? t : t.content;
}

/** Characters of section text encodePlain remembers before it starts over (~100 MB at most). */
const MAX_REMEMBERED_SECTION_CHARS = 16_000_000;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class Tokenizer {
  /** Number of token ids the tokenizer can produce (base vocabulary + added tokens); 151669 for Qwen3. */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** Every added token (special or not) by its text: "<|im_start|>" → 151644, "<think>" → 151667. */
  readonly addedTokens: ReadonlyMap<string, number>;
  /** Ids of added tokens marked special; `decode(ids, { skipSpecial: true })` drops exactly these. */
  readonly specialIds: ReadonlySet<number>;
  /** Special-token strings for the chat template's context. */
  readonly specialTokenStrings: SpecialTokenStrings;
  /** The model's chat template source (Jinja), or null when the directory has none. */
  readonly chatTemplate: string | null;

  private readonly hf: HfTokenizer;
  private readonly addedById: Map<number, AddedTokenJson>;
  private readonly addedIds: Set<number>;
  /** Leftmost-longest match of any added token that the library matches before normalization. */
  private readonly addedTokenPattern: RegExp | null;
  /** Why encodeUntrusted / encodeTemplated cannot mirror the library here, or null when they can. */
  private readonly plainUnsupported: string | null;
  private readonly templatedUnsupported: string | null;
  /** encodePlain's answers by `${sectionIndex}:${text}`, and the characters of those keys. */
  private readonly sections = new Map<string, readonly number[]>();
  private sectionChars = 0;

  constructor(tokenizerJson: TokenizerJson, config: TokenizerConfigJson, chatTemplate: string | null = null) {
    this.hf = new HfTokenizer(tokenizerJson, config);
    if (this.hf.model === null) throw new TokenizerError("tokenizer.json has no model");
    installPreTokenizerSpeedups(this.hf.pre_tokenizer, tokenizerJson.pre_tokenizer);

    const added = tokenizerJson.added_tokens ?? [];
    this.addedById = new Map(added.map((t) => [t.id, t]));
    this.addedIds = new Set(added.map((t) => t.id));
    this.addedTokens = new Map(added.map((t) => [t.content, t.id]));
    this.specialIds = new Set(added.filter((t) => t.special).map((t) => t.id));
    this.vocabSize = this.hf.model.vocab.length;

    this.specialTokenStrings = {};
    for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"] as const) {
      const s = tokenContent(config[key]);
      if (s !== undefined) this.specialTokenStrings[key] = s;
    }
    const idOf = (s: string | undefined) => (s === undefined ? null : (this.tokenToId(s) ?? null));
    this.bosTokenId = idOf(this.specialTokenStrings.bos_token);
    this.eosTokenId = idOf(this.specialTokenStrings.eos_token);
    this.padTokenId = idOf(this.specialTokenStrings.pad_token);
    this.chatTemplate = chatTemplate;

    // The library splits the raw text on added tokens that are not `normalized` (a trie, longest
    // match at the leftmost position). An alternation sorted longest-first matches the same way.
    const matchedNormalized = (t: AddedTokenJson) => (t.normalized ?? !t.special) && this.hf.normalizer !== null;
    const unnormalized = added.filter((t) => !matchedNormalized(t)).map((t) => t.content);
    unnormalized.sort((a, b) => b.length - a.length);
    this.addedTokenPattern = unnormalized.length ? new RegExp(unnormalized.map(escapeRegExp).join("|"), "g") : null;

    // Qwen3 has neither of these; other tokenizers that do are refused rather than encoded wrongly.
    this.plainUnsupported =
      config.remove_space || config.do_lowercase_and_remove_accent
        ? "its config rewrites text before normalization (remove_space / do_lowercase_and_remove_accent)"
        : null;
    const normalizedCount = added.length - unnormalized.length;
    const afterNormalization = `${normalizedCount} added tokens are matched after normalization`;
    this.templatedUnsupported = this.plainUnsupported ?? (normalizedCount > 0 ? afterNormalization : null);
  }

  // ----------------------------------------------------------------------------------------------
  // encode / decode

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (options.allowSpecial === false) return this.encodeUntrusted(text);
    // The sectioned path is the library's (tested equal) and reuses the sections it has encoded
    // before: a rendered chat repeats its system prompt and tool list in every request and, for SFT,
    // in the render up to each assistant turn.
    if (this.templatedUnsupported === null) return this.encodeTemplated(text, (piece) => piece);
    return this.hf.encode(text, { add_special_tokens: false }).ids;
  }

  /** Encode `text` as plain text: no added-token id can come out, whatever the text contains. */
  encodeUntrusted(text: string): number[] {
    if (this.plainUnsupported !== null) {
      throw new TokenizerError(`encodeUntrusted is not supported for this tokenizer: ${this.plainUnsupported}`);
    }
    return [...this.encodePlain(text, 0)];
  }

  /**
   * Added tokens written in `text` become their ids; every piece between them is mapped through
   * `restore` and then encoded as plain text. With `restore` the identity this equals `encode(text)`
   * (tested). Used by the chat template's "literal" mode, which hides markers found in untrusted
   * content behind placeholder characters before rendering and restores them here.
   */
  encodeTemplated(text: string, restore: (piece: string) => string): number[] {
    if (this.templatedUnsupported !== null) {
      throw new TokenizerError(`encodeTemplated is not supported for this tokenizer: ${this.templatedUnsupported}`);
    }
    // sections alternate text / added token, as in the library's encode_text.
    const sections: { text: string; id: number | null }[] = [];
    let last = 0;
    for (const m of this.addedTokenPattern ? text.matchAll(this.addedTokenPattern) : []) {
      if (m.index > last) sections.push({ text: text.slice(last, m.index), id: null });
      sections.push({ text: m[0], id: this.addedTokens.get(m[0]) as number });
      last = m.index + m[0].length;
    }
    if (last < text.length) sections.push({ text: text.slice(last), id: null });

    // lstrip / rstrip added tokens eat the whitespace beside them, as in the library.
    sections.forEach((s, i) => {
      if (s.id === null) return;
      const t = this.addedById.get(s.id);
      if (t?.lstrip && i > 0 && sections[i - 1].id === null) sections[i - 1].text = sections[i - 1].text.trimEnd();
      if (t?.rstrip && i + 1 < sections.length && sections[i + 1].id === null) {
        sections[i + 1].text = sections[i + 1].text.trimStart();
      }
    });

    const ids: number[] = [];
    sections.forEach((s, i) => {
      if (s.id !== null) ids.push(s.id);
      else for (const id of this.encodePlain(restore(s.text), i)) ids.push(id);
    });
    return ids;
  }

  /**
   * The library's per-section path (normalize → pre-tokenize → BPE) without added-token splitting,
   * remembered per (section index, text): a pure function of both, so a remembered answer is the
   * answer. Callers copy what they keep.
   */
  private encodePlain(text: string, sectionIndex: number): readonly number[] {
    if (text.length === 0) return [];
    const key = `${sectionIndex}:${text}`;
    const seen = this.sections.get(key);
    if (seen !== undefined) return seen;
    const ids = this.encodeSection(text, sectionIndex);
    this.sectionChars += key.length;
    if (this.sectionChars > MAX_REMEMBERED_SECTION_CHARS) {
      this.sections.clear(); // bounded memory; a long-lived server starts over
      this.sectionChars = key.length;
    }
    this.sections.set(key, ids);
    return ids;
  }

  private encodeSection(text: string, sectionIndex: number): number[] {
    const normalized = this.hf.normalizer ? this.hf.normalizer(text) : text;
    if (normalized.length === 0) return [];
    const pre = this.hf.pre_tokenizer;
    const words = pre ? pre(normalized, { section_index: sectionIndex }) : [normalized];
    const model = this.hf.model!;
    return (model(words) as string[]).map((piece) => {
      const id = model.tokens_to_ids.get(piece) ?? model.unk_token_id;
      if (id === undefined) {
        throw new TokenizerError(`BPE produced a piece outside the vocabulary: ${JSON.stringify(piece)}`);
      }
      if (this.addedIds.has(id)) {
        // Only possible if the base vocabulary itself contains an added token's text.
        throw new TokenizerError(`plain text encoded to added token ${id} (${JSON.stringify(piece)})`);
      }
      return id;
    });
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return ""; // the library throws on an empty array
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError(`token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      }
    }
    // Never transformers' clean_up_tokenization_spaces (" ," → ","; Llama 3's config turns it on):
    // vLLM's detokenizer does not apply it, and it would break render(parse(output)) === output.
    return this.hf.decode(ids as number[], { skip_special_tokens: options.skipSpecial ?? false, clean_up_tokenization_spaces: false });
  }

  // ----------------------------------------------------------------------------------------------
  // vocabulary

  /** The token's string form (byte-level BPE pieces look like "Ġthe"), or undefined. */
  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  isAddedToken(id: number): boolean {
    return this.addedIds.has(id);
  }
}
