import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadQwen3Tokenizer } from "../tokenizer/index.ts";
import { IncrementalText } from "./incremental-text.ts";

const tok = loadQwen3Tokenizer();
const decode = (ids: readonly number[]) => tok.decode([...ids], { skipSpecial: true });

function pushAll(ids: readonly number[], dec = decode): { texts: string[]; final: string } {
  const d = new IncrementalText(dec);
  const texts: string[] = [];
  for (const id of ids) {
    d.push(id);
    texts.push(d.text);
  }
  return { texts, final: d.text };
}

describe("IncrementalText (real Qwen3 tokenizer)", () => {
  it("property: text grows only, never shows half a character, and ends as the whole decode", () => {
    // full Unicode (emoji, CJK: several byte-level tokens per character) and special tokens between
    const piece = fc.oneof(fc.string({ unit: "grapheme", maxLength: 8 }), fc.constantFrom("<|im_end|>", "<think>", "😀🎉", "日本語"));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
        const text = parts.join("");
        const ids = tok.encode(text, { allowSpecial: true });
        const whole = decode(ids);
        const d = new IncrementalText(decode);
        const texts: string[] = [];
        for (const id of ids) {
          d.push(id);
          texts.push(d.text);
        }
        // every committed text is a prefix of the whole decode: it grows only, and a half character
        // (U+FFFD where the whole decode has a real character) is never shown
        for (const t of texts) expect(whole.startsWith(t)).toBe(true);
        d.finish();
        expect(d.text).toBe(whole);
      }),
      { numRuns: 200 },
    );
  });

  it("a generation ending in a literal U+FFFD is held back until finish, then committed", () => {
    const ids = tok.encode("ok \uFFFD");
    const d = new IncrementalText(decode);
    for (const id of ids) d.push(id);
    const whole = decode(ids);
    expect(whole).toBe("ok \uFFFD");
    expect(d.text).toBe("ok"); // " \uFFFD" is one byte-level token here: held as a possible half character
    expect(d.finish()).toBe(" \uFFFD");
    expect(d.text).toBe(whole);
    expect(d.finish()).toBe("");
  });

  it("a character split across byte tokens appears once complete", () => {
    const ids = tok.encode("a🫠");
    expect(ids.length).toBe(4); // the emoji is three byte-level tokens
    const { texts } = pushAll(ids);
    expect(texts).toEqual(["a", "a", "a", "a🫠"]);
  });

  it("decodes a bounded window per token: linear, not quadratic, in the generation's length", () => {
    const ids = tok.encode("The quick brown fox jumps over the lazy dog. 数字 😀 ".repeat(200));
    let decoded = 0;
    const { final } = pushAll(ids, (w) => {
      decoded += w.length;
      return decode(w);
    });
    expect(final).toBe(decode(ids));
    expect(ids.length).toBeGreaterThan(2000);
    expect(decoded).toBeLessThan(12 * ids.length); // the whole-prefix decode was ~ids.length² / 2
  });

  it("invalid UTF-8 that never completes is committed after a few tokens instead of holding text back", () => {
    const first = tok.encode("🫠")[0]; // the emoji's first bytes: an incomplete sequence alone
    const ids = [...Array.from({ length: 7 }, () => first), ...tok.encode(" ok")];
    const { final } = pushAll(ids);
    expect(final.endsWith(" ok")).toBe(true);
    expect(final).toBe(decode(ids));
  });
});
