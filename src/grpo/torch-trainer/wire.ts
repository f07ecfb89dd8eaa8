/**
 * The PyTorch worker's control-API wire format (python/gymrl_torch/server.py reads the same).
 * JSON bodies; token and float arrays travel as base64 of little-endian typed arrays (int32 tokens and
 * offsets, float64 logprobs / masks / advantages, float32 weights and gradients), a third of the
 * bytes of decimal JSON and exact. Loss options travel under NeMo RL's names (ClippedPGLossConfig's
 * snake_case keys), which the worker's loss.py takes as they are.
 */
import { endianness } from "node:os";
import type { ClippedPgLossConfig } from "../defaults.ts";
import type { TokenBatch, TrainBatch } from "../trainer.ts";

if (endianness() !== "LE") throw new Error("the torch worker wire format assumes a little-endian host");

type Typed = Int32Array | Float32Array | Float64Array;

export function encodeArray(a: Typed): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

function decode<T extends Typed>(b64: unknown, field: string, make: (buf: ArrayBuffer) => T, bytes: number): T {
  if (typeof b64 !== "string") throw new Error(`torch worker reply: ${field} is not a base64 string`);
  const buf = Buffer.from(b64, "base64");
  if (buf.length % bytes !== 0) throw new Error(`torch worker reply: ${field} has ${buf.length} bytes, not a multiple of ${bytes}`);
  const copy = new ArrayBuffer(buf.length); // aligned and owned, whatever Buffer's pool offset was
  new Uint8Array(copy).set(buf);
  return make(copy);
}

export const decodeFloat64 = (b64: unknown, field: string) => decode(b64, field, (b) => new Float64Array(b), 8);
export const decodeFloat32 = (b64: unknown, field: string) => decode(b64, field, (b) => new Float32Array(b), 4);
export const decodeInt32 = (b64: unknown, field: string) => decode(b64, field, (b) => new Int32Array(b), 4);

const f64 = (a: ArrayLike<number>) => encodeArray(a instanceof Float64Array ? a : Float64Array.from(a));
const i32 = (a: ArrayLike<number>) => encodeArray(a instanceof Int32Array ? a : Int32Array.from(a));

/** camelCase gymrl option → NeMo RL key: useCispo → use_cispo. */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
}

export function lossConfigToWire(cfg: Partial<ClippedPgLossConfig>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined).map(([k, v]) => [snakeCase(k), v]));
}

/** POST /forward body. */
export function tokenBatchToWire(b: TokenBatch): Record<string, unknown> {
  return { tokens: i32(b.tokens), seq_offsets: i32(b.seqOffsets) };
}

/** POST /forward_backward and /train_step body (without the step's own fields). */
export function trainBatchToWire(b: TrainBatch, loss: Partial<ClippedPgLossConfig>): Record<string, unknown> {
  const body: Record<string, unknown> = {
    ...tokenBatchToWire(b),
    token_mask: f64(b.tokenMask),
    sample_mask: f64(b.sampleMask),
    generation_logprobs: f64(b.generationLogprobs),
    advantages: f64(b.advantages),
    loss_config: lossConfigToWire(loss),
  };
  if (b.prevLogprobs) body.prev_logprobs = f64(b.prevLogprobs);
  if (b.refLogprobs) body.reference_logprobs = f64(b.refLogprobs);
  return body;
}

/** An error reply: {"error": {"message", "type", "field"?}}. */
export interface WireError {
  message: string;
  type: string;
  field?: string;
}
