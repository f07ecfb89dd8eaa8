/**
 * The KV cache of generation: keys and values per slot (one sequence each) and layer, the copies
 * prefix caching makes between slots, and the check that a pass's copies only read what is written.
 * Not here: the passes that fill it (model.ts prefillBatch / decodeStep), which slots to reuse
 * (src/engine/scheduler.ts).
 */
import type { FloatArray } from "../tensor/kernels.ts";
import type { Dims } from "./config.ts";
import { allocFloat, type DType } from "./params.ts";


/**
 * Keys and values of `slots` independent sequences, up to maxLen positions each.
 * Per layer, k and v are (slots, maxLen, Hkv, D); lengths[s] is how many positions slot s holds.
 */
export class KVCache {
  readonly k: FloatArray[];
  readonly v: FloatArray[];
  readonly lengths: Int32Array;

  constructor(
    dm: Dims,
    dtype: DType,
    readonly slots: number,
    readonly maxLen: number,
  ) {
    const size = slots * maxLen * dm.hkv * dm.d;
    this.k = Array.from({ length: dm.l }, () => allocFloat(dtype, size));
    this.v = Array.from({ length: dm.l }, () => allocFloat(dtype, size));
    this.lengths = new Int32Array(slots);
  }

  /** Empties a slot (its old keys are overwritten as the new sequence is written). */
  reset(slot: number): void {
    this.lengths[slot] = 0;
  }

  /**
   * Copies slot src's positions into slot dst (dst's old content is dropped): a prompt prefilled
   * once can seed every generation of its group.
   */
  copySlot(src: number, dst: number): void {
    if (src === dst) return;
    const len = this.lengths[src];
    const row = this.k[0].length / (this.slots * this.maxLen); // Hkv·D
    for (const buf of [...this.k, ...this.v]) buf.copyWithin(dst * this.maxLen * row, src * this.maxLen * row, (src * this.maxLen + len) * row);
    this.lengths[dst] = len;
  }

  /** Keeps only the first `length` positions of a slot (e.g. to reuse a shared prompt prefix). */
  truncate(slot: number, length: number): void {
    if (length > this.lengths[slot]) throw new Error(`cannot truncate slot ${slot} of length ${this.lengths[slot]} to ${length}`);
    this.lengths[slot] = length;
  }

  /**
   * Copies positions [start, end) of slot src into the same positions of slot dst, in one layer
   * (or all layers when `layer` is omitted). Lengths are left alone: the caller owns them.
   */
  copyPositions(src: number, dst: number, start: number, end: number, layer?: number): void {
    if (src === dst || end <= start) return;
    const row = this.k[0].length / (this.slots * this.maxLen); // Hkv·D
    const s = (src * this.maxLen + start) * row;
    const d = (dst * this.maxLen + start) * row;
    const n = (end - start) * row;
    const bufs = layer === undefined ? [...this.k, ...this.v] : [this.k[layer], this.v[layer]];
    for (const buf of bufs) buf.copyWithin(d, s, s + n);
  }
}

/**
 * K/V positions [start, end) of slot `src` written into the same positions of slot `dst` during a
 * cached pass (prefix caching): `start` is dst's length when its copies begin, and its rows of the
 * pass follow the last copy into it.
 */
export interface KVCopy {
  src: number;
  dst: number;
  start: number;
  end: number;
}

/**
 * Validates a pass's copies against its rows (see prefillBatch), then sets each destination's
 * length to where its rows start. Every source range must hold, by the time that copy runs, keys
 * and values written before the pass, by its rows, or by earlier copies.
 */
export function checkCopies(cache: KVCache, slots: ArrayLike<number>, tokenIds: ArrayLike<number>[], copies: readonly KVCopy[]): void {
  const rows = new Map<number, number>();
  for (let i = 0; i < slots.length; i++) rows.set(slots[i], (rows.get(slots[i]) ?? 0) + tokenIds[i].length);
  // where each slot's rows start: its length plus what is copied into it
  const rowStart = new Map<number, number>();
  for (const c of copies) {
    for (const s of [c.src, c.dst])
      if (!Number.isInteger(s) || s < 0 || s >= cache.slots) throw new Error(`cache slot ${s} out of range (0..${cache.slots - 1})`);
    const at = rowStart.get(c.dst) ?? cache.lengths[c.dst];
    if (c.src === c.dst || c.start !== at || !(c.end > c.start) || c.end > cache.maxLen)
      throw new Error(`KV copy ${c.src} → ${c.dst} [${c.start}, ${c.end}) does not extend slot ${c.dst} (length ${at})`);
    rowStart.set(c.dst, c.end);
  }
  // in order: the contiguous prefix of each slot that is written when the copy runs
  const filled = new Map<number, number>();
  for (const c of copies) {
    const x = filled.get(c.src) ?? cache.lengths[c.src];
    const start = rowStart.get(c.src) ?? cache.lengths[c.src];
    const avail = x === start ? start + (rows.get(c.src) ?? 0) : x;
    if (c.end > avail) throw new Error(`KV copy ${c.src} → ${c.dst} [${c.start}, ${c.end}) reads past what slot ${c.src} holds (${avail})`);
    filled.set(c.dst, c.end);
  }
  for (const [slot, start] of rowStart) cache.lengths[slot] = start;
}
