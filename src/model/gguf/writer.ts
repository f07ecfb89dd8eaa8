/**
 * A writer of GGUF version 3 files (ggml's docs/gguf.md): header, typed metadata, tensor infos,
 * then the tensor data, each tensor at an offset that is a multiple of the alignment (32, the
 * default, so no general.alignment key is needed). All little-endian. Only what gymrl exports is
 * supported: F32 and F16 tensors, and scalar/array metadata of the types below.
 * Dimensions are given as the Hugging Face shape (outermost first); GGUF lists them innermost first
 * (ggml's ne[0] is the contiguous one), so the writer reverses them.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";

import { f32ToF16Bits } from "./f16.ts";

/** gguf_metadata_value_type. */
export const GgufType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** ggml_type of the tensors gymrl writes. */
export const GgmlType = { F32: 0, F16: 1 } as const;
export type TensorDType = keyof typeof GgmlType;

export const GGUF_ALIGNMENT = 32;

export type GgufValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: readonly string[] }
  | { type: "i32[]"; value: ArrayLike<number> }
  | { type: "f32[]"; value: ArrayLike<number> };

export interface GgufTensor {
  name: string;
  /** The Hugging Face shape, outermost first. */
  shape: readonly number[];
  dtype: TensorDType;
  /** The values in row-major order of `shape` (converted to dtype on writing). */
  data: Float32Array;
}

/** A growable little-endian byte buffer for the header part of the file. */
class Bytes {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  u64(v: number): void {
    this.reserve(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  f32(v: number): void {
    this.reserve(4);
    this.buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v;
  }
  string(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.reserve(b.length);
    b.copy(this.buf, this.length);
    this.length += b.length;
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function writeValue(out: Bytes, key: string, v: GgufValue): void {
  const checkInt = (x: number, lo: number, hi: number) => {
    if (!Number.isInteger(x) || x < lo || x > hi) throw new Error(`GGUF metadata ${key}: ${x} is not a ${v.type}`);
  };
  switch (v.type) {
    case "u32":
      checkInt(v.value, 0, 0xffffffff);
      out.u32(GgufType.UINT32);
      out.u32(v.value);
      return;
    case "i32":
      checkInt(v.value, -0x80000000, 0x7fffffff);
      out.u32(GgufType.INT32);
      out.i32(v.value);
      return;
    case "f32":
      out.u32(GgufType.FLOAT32);
      out.f32(v.value);
      return;
    case "bool":
      out.u32(GgufType.BOOL);
      out.u8(v.value ? 1 : 0);
      return;
    case "string":
      out.u32(GgufType.STRING);
      out.string(v.value);
      return;
    case "string[]":
      out.u32(GgufType.ARRAY);
      out.u32(GgufType.STRING);
      out.u64(v.value.length);
      for (const s of v.value) out.string(s);
      return;
    case "i32[]":
      out.u32(GgufType.ARRAY);
      out.u32(GgufType.INT32);
      out.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) {
        checkInt(v.value[i], -0x80000000, 0x7fffffff);
        out.i32(v.value[i]);
      }
      return;
    case "f32[]":
      out.u32(GgufType.ARRAY);
      out.u32(GgufType.FLOAT32);
      out.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) out.f32(v.value[i]);
      return;
  }
}

const bytesPer = (d: TensorDType) => (d === "F32" ? 4 : 2);

/** The tensor's data in its GGUF dtype, as bytes. */
function tensorBytes(t: GgufTensor): Uint8Array {
  if (t.dtype === "F32") return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const half = new Uint16Array(t.data.length);
  for (let i = 0; i < t.data.length; i++) half[i] = f32ToF16Bits(t.data[i]);
  return new Uint8Array(half.buffer);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/**
 * Writes a GGUF file at `path` (atomically: a temporary sibling renamed into place). Metadata is
 * written in the order given; tensors in order, each aligned to GGUF_ALIGNMENT.
 */
export function writeGguf(path: string, metadata: ReadonlyArray<readonly [string, GgufValue]>, tensors: readonly GgufTensor[]): void {
  const head = new Bytes();
  head.u32(0x46554747); // "GGUF" read as a little-endian uint32
  head.u32(3);
  head.u64(tensors.length);
  head.u64(metadata.length);
  const keys = new Set<string>();
  for (const [key, value] of metadata) {
    if (keys.has(key)) throw new Error(`GGUF metadata key ${key} given twice`);
    keys.add(key);
    head.string(key);
    writeValue(head, key, value);
  }
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`GGUF tensor ${t.name} given twice`);
    names.add(t.name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`GGUF tensor ${t.name}: shape [${t.shape}] holds ${n} values, data has ${t.data.length}`);
    head.string(t.name);
    head.u32(t.shape.length);
    for (let i = t.shape.length - 1; i >= 0; i--) head.u64(t.shape[i]);
    head.u32(GgmlType[t.dtype]);
    head.u64(offset);
    offset += n * bytesPer(t.dtype);
    offset += (GGUF_ALIGNMENT - (offset % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;
  }
  head.pad(GGUF_ALIGNMENT);

  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    writeAll(fd, head.bytes());
    const zeros = new Uint8Array(GGUF_ALIGNMENT);
    for (const t of tensors) {
      const bytes = tensorBytes(t);
      writeAll(fd, bytes);
      writeAll(fd, zeros.subarray(0, (GGUF_ALIGNMENT - (bytes.length % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT));
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}
