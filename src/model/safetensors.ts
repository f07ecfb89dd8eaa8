/**
 * The safetensors format, read and written by hand (no maintained npm package exists): an 8-byte
 * little-endian header length, a UTF-8 JSON header mapping each tensor name to
 * {dtype, shape, data_offsets: [begin, end]} (byte offsets into the data section) plus an optional
 * "__metadata__" string map, padded with spaces so the data section starts 8-byte aligned; then
 * the tensors' bytes, little-endian, row-major. Reading converts F32, F64, F16 and BF16 to float.
 */

export type StDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const BYTES: Record<StDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface TensorToWrite {
  name: string;
  shape: number[];
  /** F32 for a Float32Array, F64 for a Float64Array */
  data: Float32Array | Float64Array;
}

/** Serialises tensors (in the given order) and metadata into one safetensors byte buffer. */
export function serializeSafetensors(tensors: TensorToWrite[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === "__metadata__") throw new Error("a tensor may not be named __metadata__");
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor ${t.name}: shape [${t.shape}] holds ${count} values, data has ${t.data.length}`);
    const dtype: StDType = t.data instanceof Float64Array ? "F64" : "F32";
    const end = offset + t.data.byteLength;
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, "utf8");
  json += " ".repeat((8 - (jsonBytes % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

export interface TensorInfo {
  dtype: StDType;
  shape: number[];
  /** the raw bytes of the tensor (a view into the file buffer) */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
}

/** Parses a safetensors buffer; validates offsets, dtypes and sizes. */
export function parseSafetensors(buf: Uint8Array): SafetensorsFile {
  if (buf.length < 8) throw new Error("safetensors: file is shorter than its 8-byte header length");
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (8 + n > buf.length) throw new Error(`safetensors: header length ${n} runs past the end of the file (${buf.length} bytes)`);
  const header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString("utf8")) as Record<string, unknown>;
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, TensorInfo>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const e = raw as { dtype: StDType; shape: number[]; data_offsets: [number, number] };
    const size = BYTES[e.dtype];
    if (size === undefined) throw new Error(`safetensors: tensor ${name} has unknown dtype ${e.dtype}`);
    const [b, end] = e.data_offsets;
    const count = e.shape.reduce((a, c) => a * c, 1);
    if (!(0 <= b && b <= end && end <= dataLen) || end - b !== count * size)
      throw new Error(`safetensors: tensor ${name} has bad data_offsets [${b}, ${end}] for ${e.dtype} [${e.shape}]`);
    tensors.set(name, { dtype: e.dtype, shape: e.shape, bytes: buf.subarray(dataStart + b, dataStart + end) });
  }
  return { metadata, tensors };
}

/** Converts a float tensor (F32, F64, F16, BF16) into `out` (length = element count). */
export function readFloatTensor(t: TensorInfo, out: Float32Array | Float64Array): void {
  const count = t.shape.reduce((a, c) => a * c, 1);
  if (out.length !== count) throw new Error(`tensor of shape [${t.shape}] does not fit an output of ${out.length} values`);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  switch (t.dtype) {
    case "F32":
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
      return;
    case "F64":
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
      return;
    case "BF16": {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        tmp.setUint32(0, dv.getUint16(2 * i, true) << 16, true);
        out[i] = tmp.getFloat32(0, true);
      }
      return;
    }
    case "F16":
      for (let i = 0; i < count; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
      return;
    default:
      throw new Error(`cannot read a ${t.dtype} tensor as float`);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
