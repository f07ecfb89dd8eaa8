/** The sped-up pre-tokenizers give the untouched library's pieces and ids. */
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadQwen3Tokenizer, qwen3TokenizerDir } from "./load.ts";

const dir = qwen3TokenizerDir();
const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
const pristine = new HfTokenizer(json, config);
const tok = loadQwen3Tokenizer();
const patched = (tok as unknown as { hf: HfTokenizer }).hf;

const preTokenize = (t: HfTokenizer, text: string) => (t.pre_tokenizer as unknown as (s: string) => string[])(text);

/** Text mixing ASCII, multi-byte characters, surrogate pairs, whitespace runs and added-token text. */
const text = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc
    .array(fc.constantFrom("a", "Ab", " ", "  ", "\n", "\r\n", "\t", "é", "日本", "😀", "'s", "123", "<|im_end|>", "<think>", "{\"x\": 1}", "\u00a0"), { maxLength: 12 })
    .map((p) => p.join("")),
);

describe("pre-tokenizer speedups", () => {
  it("are installed on this tokenizer's ByteLevel and leave the library's classes alone", () => {
    const sequence = patched.pre_tokenizer as unknown as { tokenizers: object[]; pre_tokenize: unknown };
    const untouched = pristine.pre_tokenizer as unknown as { tokenizers: object[]; pre_tokenize: unknown };
    expect(Object.hasOwn(sequence.tokenizers[1], "pre_tokenize_text")).toBe(true);
    expect(Object.hasOwn(untouched.tokenizers[1], "pre_tokenize_text")).toBe(false);
    expect(untouched.pre_tokenize).not.toBe(sequence.pre_tokenize);
  });

  it("property: the same pieces and ids as the untouched library", () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(preTokenize(patched, s)).toEqual(preTokenize(pristine, s));
        expect(tok.encode(s)).toEqual(pristine.encode(s, { add_special_tokens: false }).ids);
      }),
      { numRuns: 2000 },
    );
  });

  it("a long mixed prompt encodes to the same ids", () => {
    const s = "<|im_start|>user\nCompute 17 × 25 — then say «done» 😀.\n\n  Indented\tline<|im_end|>\n".repeat(50);
    expect(tok.encode(s)).toEqual(pristine.encode(s, { add_special_tokens: false }).ids);
  });
});
