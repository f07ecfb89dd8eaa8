/**
 * A run's metrics.jsonl as a TensorBoard event file, so `tensorboard --logdir runs/` shows the same
 * curves: RUN/tensorboard/events.out.tfevents.0.gymrl, one scalar per numeric metric per step.
 * Written from the documented formats, no TensorFlow: TFRecord framing (u64 length, masked CRC-32C
 * of the length, data, masked CRC-32C of the data) around `Event` protobufs (tensorflow/core/util/
 * event.proto: wall_time = 1 double, step = 2 int64, file_version = 3 string, summary = 5;
 * Summary.value = 1; Value.tag = 1 string, Value.simple_value = 2 float).
 * The file only grows while the metrics do (TensorBoard reads it from its last offset); a file whose
 * start no longer matches (a resumed run cut its metrics back) is written anew.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { METRICS_FILE, readMetrics, type MetricsLine } from "./run-data.ts";

export const TENSORBOARD_DIR = "tensorboard";
export const EVENTS_FILE = "events.out.tfevents.0.gymrl";

// ------------------------------------------------------------------------------------------------
// CRC-32C (Castagnoli), as TFRecord uses it, and its mask

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15, add a constant (so a CRC of CRCs stays useful). */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

function tfRecord(data: Uint8Array): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(data.length));
  const head = Buffer.alloc(4);
  head.writeUInt32LE(maskedCrc32c(len));
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc32c(data));
  return Buffer.concat([len, head, data, tail]);
}

// ------------------------------------------------------------------------------------------------
// protobuf, the few wire types an Event needs

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

const key = (field: number, wire: number) => varint((field << 3) | wire);

function lengthDelimited(field: number, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(key(field, 2)), Buffer.from(varint(body.length)), body]);
}

function scalarValue(tag: string, value: number): Buffer {
  const f = Buffer.alloc(4);
  f.writeFloatLE(value);
  return Buffer.concat([lengthDelimited(1, Buffer.from(tag, "utf8")), Buffer.from(key(2, 5)), f]);
}

/** One `Event`: wall time, step, and either the file version or a summary of scalars. */
export function encodeEvent(wallTime: number, step: number, body: { fileVersion: string } | { scalars: [string, number][] }): Buffer {
  const t = Buffer.alloc(8);
  t.writeDoubleLE(wallTime);
  const parts: Buffer[] = [Buffer.from(key(1, 1)), t, Buffer.from([...key(2, 0), ...varint(step)])];
  if ("fileVersion" in body) parts.push(lengthDelimited(3, Buffer.from(body.fileVersion, "utf8")));
  else parts.push(lengthDelimited(5, Buffer.concat(body.scalars.map(([tag, v]) => lengthDelimited(1, scalarValue(tag, v))))));
  return Buffer.concat(parts);
}

/** The event file's bytes for these metrics lines; wall time = `start` + the line's elapsed_s. */
export function tensorboardEvents(lines: readonly MetricsLine[], start: number): Buffer {
  const records = [tfRecord(encodeEvent(start, 0, { fileVersion: "brain.Event:2" }))];
  for (const l of lines) {
    const step = l.step as number;
    if (!Number.isInteger(step) || step < 0) continue;
    const scalars = Object.entries(l).filter((e): e is [string, number] => e[0] !== "step" && typeof e[1] === "number" && Number.isFinite(e[1]));
    if (scalars.length === 0) continue;
    const elapsed = typeof l.elapsed_s === "number" ? l.elapsed_s : 0;
    records.push(tfRecord(encodeEvent(start + elapsed, step, { scalars })));
  }
  return Buffer.concat(records);
}

/**
 * Brings RUN/tensorboard/ up to date with RUN/metrics.jsonl (appending what is new); returns the
 * file's path, or null when the run has no metrics file yet.
 */
export function writeTensorboard(runDir: string): string | null {
  const metricsPath = join(runDir, METRICS_FILE);
  if (!existsSync(metricsPath)) return null;
  const { lines } = readMetrics(runDir); // a cut last line waits for its newline
  // a stable start, so the same lines always give the same bytes and the file can grow in place
  const start = Math.floor(statSync(metricsPath).birthtimeMs || statSync(metricsPath).ctimeMs) / 1000;
  const bytes = tensorboardEvents(lines, start);
  const dir = join(runDir, TENSORBOARD_DIR);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, EVENTS_FILE);
  const old = existsSync(path) ? readFileSync(path) : null;
  if (old && old.length <= bytes.length && bytes.subarray(0, old.length).equals(old)) {
    if (bytes.length > old.length) appendFileSync(path, bytes.subarray(old.length));
    return path;
  }
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
  return path;
}
