/**
 * The TensorBoard event file, read back with a decoder written here from the formats' documents
 * (TFRecord framing, protobuf wire format), and CRC-32C against its published check value.
 */
import { appendFileSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { crc32c, maskedCrc32c, writeTensorboard } from "../../src/view/tensorboard.ts";
import { metricsLine, writeFixtureRun } from "./fixture-run.ts";

interface Event {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars: Record<string, number>;
}

function readVarint(b: Buffer, at: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const x = b[at++];
    v += (x & 0x7f) * mul;
    mul *= 128;
    if (!(x & 0x80)) return [v, at];
  }
}

/** (field, wire type, value or bytes) triples of one protobuf message. */
function fields(b: Buffer): [number, number, number | Buffer][] {
  const out: [number, number, number | Buffer][] = [];
  let at = 0;
  while (at < b.length) {
    let k: number;
    [k, at] = readVarint(b, at);
    const field = k >> 3;
    const wire = k & 7;
    if (wire === 0) {
      let v: number;
      [v, at] = readVarint(b, at);
      out.push([field, wire, v]);
    } else if (wire === 1) {
      out.push([field, wire, b.readDoubleLE(at)]);
      at += 8;
    } else if (wire === 5) {
      out.push([field, wire, b.readFloatLE(at)]);
      at += 4;
    } else if (wire === 2) {
      let n: number;
      [n, at] = readVarint(b, at);
      out.push([field, wire, b.subarray(at, at + n)]);
      at += n;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}

function readEvents(path: string): Event[] {
  const b = readFileSync(path);
  const events: Event[] = [];
  let at = 0;
  while (at < b.length) {
    const len = Number(b.readBigUInt64LE(at));
    expect(b.readUInt32LE(at + 8)).toBe(maskedCrc32c(b.subarray(at, at + 8)));
    const data = b.subarray(at + 12, at + 12 + len);
    expect(b.readUInt32LE(at + 12 + len)).toBe(maskedCrc32c(data));
    at += 12 + len + 4;
    const e: Event = { wallTime: NaN, step: 0, scalars: {} };
    for (const [f, , v] of fields(data)) {
      if (f === 1) e.wallTime = v as number;
      if (f === 2) e.step = v as number;
      if (f === 3) e.fileVersion = (v as Buffer).toString("utf8");
      if (f === 5)
        for (const [, , value] of fields(v as Buffer)) {
          const vf = fields(value as Buffer);
          e.scalars[(vf.find((x) => x[0] === 1)![2] as Buffer).toString("utf8")] = vf.find((x) => x[0] === 2)![2] as number;
        }
    }
    events.push(e);
  }
  return events;
}

describe("TensorBoard event file", () => {
  it("CRC-32C matches the published check value of \"123456789\"", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283);
  });

  it("one scalar event per metrics line, every numeric metric, float32 values", () => {
    const run = writeFixtureRun(3);
    const path = writeTensorboard(run.dir)!;
    const ev = readEvents(path);
    expect(ev[0].fileVersion).toBe("brain.Event:2");
    expect(ev.slice(1).map((e) => e.step)).toEqual([0, 1, 2, 3]);
    const e2 = ev.find((e) => e.step === 2)!;
    const want = metricsLine(2);
    expect(Object.keys(e2.scalars).sort()).toEqual(Object.keys(want).filter((k) => k !== "step").sort());
    for (const [k, v] of Object.entries(want)) if (k !== "step") expect(e2.scalars[k]).toBe(Math.fround(v));
    expect(ev.find((e) => e.step === 3)!.scalars["validation/accuracy"]).toBe(Math.fround(0.6));
  });

  it("grows in place as steps are appended; a cut last line waits for its newline", () => {
    const run = writeFixtureRun(2);
    const path = writeTensorboard(run.dir)!;
    const before = readFileSync(path);
    appendFileSync(join(run.dir, "metrics.jsonl"), JSON.stringify(metricsLine(3)) + "\n" + JSON.stringify(metricsLine(4)).slice(0, 25));
    writeTensorboard(run.dir);
    const after = readFileSync(path);
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    expect(readEvents(path).map((e) => e.step)).toEqual([0, 0, 1, 2, 3]);
    expect(statSync(path).size).toBe(after.length);
  });
});
