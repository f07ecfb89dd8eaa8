/**
 * Faster paths with identical output inside @huggingface/tokenizers' pre-tokenizers, installed on one
 * tokenizer's own instances (never on the library's classes). Pre-tokenizing is most of encoding a
 * prompt; for Qwen3 (Split, then ByteLevel without its regex) these two make `encode` ~3× faster:
 *
 * - ByteLevel maps every UTF-8 byte of a piece to its printable stand-in through a TextEncoder call
 *   and `Array.from` per piece. The bytes of an ASCII piece are its character codes, so such a piece
 *   is mapped by a walk over the string; any other piece takes the library's own path.
 * - Every pre-tokenizer's `pre_tokenize` is `map` + `flat()`, and `flat()` is slow on V8: the same
 *   one-level flattening is done by a loop.
 *
 * Equivalence with the untouched library is tested on random text (pre-tokenizer-speedups.test.ts).
 */

interface PreTokenizerInstance {
  pre_tokenize_text(text: string, options?: unknown): unknown;
  pre_tokenize(text: string | string[], options?: unknown): unknown[];
  // ByteLevel
  byte_encoder?: Record<number, string>;
  add_prefix_space?: boolean;
  use_regex?: boolean;
  // Sequence
  tokenizers?: unknown[];
}

/** Install the faster paths on `preTokenizer` (a tokenizer's `pre_tokenizer`) as far as its `config` shows they apply. */
export function installPreTokenizerSpeedups(preTokenizer: unknown, config: unknown): void {
  if (preTokenizer === null || typeof preTokenizer !== "function" || typeof config !== "object" || config === null) return;
  const p = preTokenizer as unknown as PreTokenizerInstance;
  const c = config as { type?: string; pretokenizers?: unknown[] };

  if (c.type === "Sequence" && Array.isArray(p.tokenizers) && Array.isArray(c.pretokenizers) && p.tokenizers.length === c.pretokenizers.length) {
    p.tokenizers.forEach((child, i) => installPreTokenizerSpeedups(child, c.pretokenizers![i]));
  }
  if (c.type === "ByteLevel" && p.use_regex === false && p.add_prefix_space === false && p.byte_encoder !== undefined) {
    installAsciiByteLevel(p, p.byte_encoder);
  }
  if (!Object.hasOwn(Object.getPrototypeOf(p) as object, "pre_tokenize") && (c.type === "Sequence" || c.type === "Split" || c.type === "ByteLevel")) {
    p.pre_tokenize = flatteningPreTokenize;
  }
}

/** ByteLevel (no regex, no prefix space): `[piece]` with every byte mapped; ASCII pieces without TextEncoder. */
function installAsciiByteLevel(p: PreTokenizerInstance, byteEncoder: Record<number, string>): void {
  const library = p.pre_tokenize_text.bind(p);
  p.pre_tokenize_text = (text, options) => {
    let out = "";
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) return library(text, options);
      out += byteEncoder[code];
    }
    return [out];
  };
}

/** The library's `(Array.isArray(t) ? t.map(pre_tokenize_text) : pre_tokenize_text(t)).flat()`, as loops. */
function flatteningPreTokenize(this: PreTokenizerInstance, text: string | string[], options?: unknown): unknown[] {
  const out: unknown[] = [];
  if (Array.isArray(text)) {
    for (const piece of text) pushFlat(out, this.pre_tokenize_text(piece, options));
  } else {
    for (const item of this.pre_tokenize_text(text, options) as unknown[]) pushFlat(out, item);
  }
  return out;
}

/** One level of `flat()`: an array's items, or the value itself. */
function pushFlat(out: unknown[], value: unknown): void {
  if (Array.isArray(value)) for (const x of value) out.push(x);
  else out.push(value);
}
