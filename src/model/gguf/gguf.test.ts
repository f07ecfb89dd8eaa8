/**
 * The GGUF writer against an independent reader (node-llama-cpp's readGgufFileInfo, pure JS: no
 * native binary needed), and the float16 conversion against its definition. That llama.cpp loads
 * and runs what the exporter writes is test/gguf/llamacpp.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { readGgufFileInfo } from "node-llama-cpp";
import { afterAll, describe, expect, test } from "vitest";

import { Rng } from "../rng.ts";
import { f16BitsToF32, f32ToF16Bits } from "./f16.ts";
import { GGUF_ALIGNMENT, writeGguf } from "./writer.ts";

const dir = mkdtempSync(join(tmpdir(), "gymrl-gguf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("f32ToF16Bits", () => {
  test("every finite half converts back to itself", () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const x = f16BitsToF32(h);
      if (!Number.isNaN(x) && f32ToF16Bits(h === 0x8000 ? -0 : x) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  test("rounds to the nearest half, ties to even, overflow to inf, NaN stays NaN", () => {
    const rng = new Rng(7);
    const bad: string[] = [];
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround(rng.normal() * 2 ** Math.floor(rng.normal() * 12));
      const h = f32ToF16Bits(x);
      const y = f16BitsToF32(h);
      if (!Number.isFinite(y)) {
        if (Math.abs(x) < 65520) bad.push(`${x} → inf`); // 65520: the rounding boundary above the largest half, 65504
        continue;
      }
      // no other half is closer: the neighbours (h ± 1 in the same sign) are at least as far
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7fff) === 0x7fff || (n & 0x8000) !== (h & 0x8000) || (n & 0x7c00) === 0x7c00) continue;
        const dn = Math.abs(f16BitsToF32(n) - x);
        const dy = Math.abs(y - x);
        if (dy > dn || (dy === dn && h & 1)) bad.push(`${x} → ${y}, but ${f16BitsToF32(n)} is nearer or even`);
      }
    }
    expect(bad).toEqual([]);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1+2^-10: even (1)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie between 1+2^-10 and 1+2^-9: even
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
    expect(f32ToF16Bits(2 ** -24)).toBe(1); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // half of it ties to even: 0
    expect(f32ToF16Bits(Math.fround(1.5 * 2 ** -25))).toBe(1);
  });
});

describe("writeGguf", () => {
  test("an independent reader sees the metadata, tensor infos and data as written", async () => {
    const path = join(dir, "t.gguf");
    const a = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
    const b = Float32Array.from({ length: 5 }, (_, i) => 1 / (i + 1));
    writeGguf(
      path,
      [
        ["general.architecture", { type: "string", value: "qwen3" }],
        ["qwen3.block_count", { type: "u32", value: 2 }],
        ["x.i32", { type: "i32", value: -7 }],
        ["qwen3.rope.freq_base", { type: "f32", value: 1e6 }],
        ["x.flag", { type: "bool", value: true }],
        ["tokenizer.ggml.tokens", { type: "string[]", value: ["a", "ü", "<|x|>"] }],
        ["tokenizer.ggml.token_type", { type: "i32[]", value: [1, 1, 3] }],
        ["x.f32s", { type: "f32[]", value: [0.5, -2] }],
      ],
      [
        { name: "m.weight", shape: [2, 3], dtype: "F32", data: a },
        { name: "h.weight", shape: [5], dtype: "F16", data: b },
      ],
    );
    const info = await readGgufFileInfo(path, { readTensorInfo: true, logWarnings: false });
    expect(info.version).toBe(3);
    const md = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(md.general.architecture).toBe("qwen3");
    expect(md.qwen3.block_count).toBe(2);
    expect((md.qwen3.rope as Record<string, unknown>).freq_base).toBe(1e6);
    expect(md.x.i32).toBe(-7);
    expect(md.x.flag).toBe(true);
    expect(md.x.f32s).toEqual([0.5, -2]);
    const tk = md.tokenizer.ggml as Record<string, unknown>;
    expect(tk.tokens).toEqual(["a", "ü", "<|x|>"]);
    expect(tk.token_type).toEqual([1, 1, 3]);
    const [tm, th] = info.fullTensorInfo!;
    expect(tm.name).toBe("m.weight");
    expect(tm.dimensions.map(Number)).toEqual([3, 2]); // innermost first
    expect(tm.ggmlType).toBe(0);
    expect(th.dimensions.map(Number)).toEqual([5]);
    expect(th.ggmlType).toBe(1);
    for (const t of [tm, th]) expect(Number(t.fileOffset) % GGUF_ALIGNMENT).toBe(0);
    const file = readFileSync(path);
    const at = Number(tm.fileOffset);
    expect(Array.from(new Float32Array(file.buffer.slice(file.byteOffset + at, file.byteOffset + at + 24)))).toEqual(Array.from(a));
    const halves = [0, 1, 2, 3, 4].map((i) => file.readUInt16LE(Number(th.fileOffset) + 2 * i));
    expect(halves).toEqual(Array.from(b, (x) => f32ToF16Bits(x)));
    expect(file.length).toBe(Number(th.fileOffset) + 10 + 22); // padded to the alignment
  });

  test("a duplicate key or a shape that does not hold the data is an error naming it", () => {
    const path = join(dir, "bad.gguf");
    const s = { type: "string", value: "x" } as const;
    expect(() => writeGguf(path, [["k", s], ["k", s]], [])).toThrow(/key k given twice/);
    expect(() => writeGguf(path, [], [{ name: "w", shape: [2, 2], dtype: "F32", data: new Float32Array(3) }])).toThrow(/tensor w: shape \[2,2\] holds 4 values, data has 3/);
    expect(() => writeGguf(path, [["n", { type: "u32", value: -1 }]], [])).toThrow(/n: -1 is not a u32/);
  });
});
