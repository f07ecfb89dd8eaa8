/**
 * The LM head and log-softmax of training and scoring, in chunks of rows, so a packed batch never
 * holds N × Vout logits: at Qwen3's 151,936 rows a 4k-token batch would need 2.5 GB of float32
 * logits (and as much again if dlogits were separate). At most `chunkRows` × Vout logits exist at
 * once; the default keeps that near 128 MiB whatever the vocabulary.
 *
 * Forward, per chunk: gather the rows that have a target, logits = lnf · headᵀ (/ T), then log p
 * of the target, entropy and logsumexp per row (kept, N floats). The logits of a chunk are dropped
 * when the next chunk starts, so backward recomputes them (one extra head matmul per chunk), except
 * when the whole batch fit in one chunk: then the forward's logits are still there and are used in
 * place, so a small vocabulary pays nothing for chunking. Backward skips rows whose dlogp and
 * dentropy are both zero (a GRPO batch's prompt rows): they contribute nothing to any gradient.
 *
 * Results equal the unchunked computation: every row's logits, logp and entropy come from the same
 * operations on the same inputs; only dW's sum over rows is split into per-chunk partial sums.
 */
import type { FloatArray, Kernels } from "../tensor/kernels.ts";
import { allocFloat, type DType } from "./params.ts";

/** Logit floats one chunk may hold by default (2^25: 128 MiB in float32). */
export const DEFAULT_LOGIT_CHUNK_FLOATS = 1 << 25;

/** Rows per chunk for a head of `vOut` rows under a budget of `floats` logits. */
export function defaultChunkRows(vOut: number, floats = DEFAULT_LOGIT_CHUNK_FLOATS): number {
  return Math.max(1, Math.floor(floats / vOut));
}

export class LmHead {
  readonly chunkRows: number;
  // chunk buffers, allocated for min(chunkRows, rows needed) and grown on demand
  private cap = 0;
  private logits: FloatArray; // (cap, Vout); dlogits in place during backward
  private x: FloatArray; // (cap, C) the chunk's gathered lnf rows
  private dx: FloatArray; // (cap, C) their gradient
  private tgt: Int32Array; // (cap) target rows
  private lp: FloatArray; // (cap) logp; during backward: dlogp
  private ent: FloatArray; // (cap) entropy; during backward: dentropy
  private lseC: FloatArray; // (cap) logsumexp
  // per batch row
  private rows: Int32Array = new Int32Array(0); // the rows a pass works on, in order
  private lse: FloatArray; // (N) logsumexp of each row with a target, from the forward
  /** rows of the forward whose logits are still in `logits` (the whole batch fit in one chunk) */
  private retained = -1;

  constructor(
    private readonly kernels: Kernels,
    private readonly dtype: DType,
    private readonly c: number,
    private readonly vOut: number,
    chunkRows = defaultChunkRows(vOut),
  ) {
    if (!(Number.isInteger(chunkRows) && chunkRows >= 1)) throw new RangeError(`logit chunk rows must be an integer >= 1, got ${chunkRows}`);
    this.chunkRows = chunkRows;
    this.logits = this.x = this.dx = this.lp = this.ent = this.lseC = this.lse = allocFloat(dtype, 0);
    this.tgt = new Int32Array(0);
  }

  /** Logit floats currently allocated (at most chunkRows × Vout). */
  get logitFloats(): number {
    return this.logits.length;
  }

  /**
   * logp[i] = log softmax(lnf[i] · headᵀ / T)[targetRows[i]] and the entropy of that distribution,
   * for i < n; 0 on rows with targetRows[i] < 0. lnf is (N, C), head (Vout, C).
   */
  forward(
    logp: FloatArray,
    entropy: FloatArray,
    lnf: FloatArray,
    targetRows: Int32Array,
    n: number,
    head: FloatArray,
    temperature: number,
  ): void {
    const { vOut } = this;
    logp.fill(0, 0, n);
    entropy.fill(0, 0, n);
    if (this.lse.length < n) this.lse = allocFloat(this.dtype, n);
    const m = this.selectRows(n, (i) => targetRows[i] >= 0);
    const R = this.chunkRows;
    this.ensureChunk(Math.min(R, m));
    for (let start = 0; start < m; start += R) {
      const k = Math.min(R, m - start);
      this.chunkLogits(start, k, lnf, targetRows, head, temperature);
      this.kernels.logprobForward(this.lp, this.ent, this.lseC, this.logits, this.tgt, k, vOut);
      for (let j = 0; j < k; j++) {
        const i = this.rows[start + j];
        logp[i] = this.lp[j];
        entropy[i] = this.ent[j];
        this.lse[i] = this.lseC[j];
      }
    }
    this.retained = m <= R ? m : -1;
  }

  /**
   * From dL/dlogp and dL/dentropy (may be null) of the last forward over the same lnf and targets:
   * OVERWRITES dlnf (N, C) and ACCUMULATES into dhead (Vout, C). Consumes the forward's state.
   */
  backward(
    dlnf: FloatArray,
    dhead: FloatArray,
    dlogp: FloatArray,
    dentropy: FloatArray | null,
    lnf: FloatArray,
    targetRows: Int32Array,
    n: number,
    head: FloatArray,
    temperature: number,
  ): void {
    const { c, vOut } = this;
    const K = this.kernels;
    dlnf.fill(0, 0, n * c);
    const reuse = this.retained;
    this.retained = -1;
    let m: number;
    if (reuse >= 0) {
      m = reuse; // this.rows still lists the forward's rows, whose logits are in this.logits
    } else {
      const live = (i: number) => targetRows[i] >= 0 && (dlogp[i] !== 0 || (dentropy !== null && dentropy[i] !== 0));
      m = this.selectRows(n, live);
      this.ensureChunk(Math.min(this.chunkRows, m));
    }
    const R = this.chunkRows;
    for (let start = 0; start < m; start += R) {
      const k = Math.min(R, m - start);
      if (reuse < 0) {
        this.chunkLogits(start, k, lnf, targetRows, head, temperature);
      }
      for (let j = 0; j < k; j++) {
        const i = this.rows[start + j];
        this.lp[j] = dlogp[i];
        this.ent[j] = dentropy === null ? 0 : dentropy[i];
        this.lseC[j] = this.lse[i];
      }
      K.logprobBackward(this.logits, this.lp, dentropy === null ? null : this.ent, this.logits, this.lseC, this.tgt, k, vOut);
      if (temperature !== 1) scaleInPlace(this.logits, k * vOut, 1 / temperature); // d(logits/T)/dlogits
      K.matmul(this.dx, this.logits, head, k, c, vOut, false, false, 0); // dx (k,C) = dlogits · W
      K.matmul(dhead, this.logits, this.x, vOut, c, k, true, false, 1); // dW (Vout,C) += dlogitsᵀ · x
      for (let j = 0; j < k; j++) {
        const i = this.rows[start + j];
        dlnf.set(this.dx.subarray(j * c, (j + 1) * c), i * c);
      }
    }
  }

  /** Elements of every buffer held (logits, gathered rows, per-row values). */
  get bufferFloats(): number {
    return [this.logits, this.x, this.dx, this.tgt, this.lp, this.ent, this.lseC, this.rows, this.lse].reduce((t, b) => t + b.length, 0);
  }

  /** Drops the buffers (re-allocated on the next call). */
  release(): void {
    this.cap = 0;
    this.logits = this.x = this.dx = this.lp = this.ent = this.lseC = this.lse = allocFloat(this.dtype, 0);
    this.tgt = new Int32Array(0);
    this.rows = new Int32Array(0);
    this.retained = -1;
  }

  // ----------------------------------------------------------------------------------------------

  /** Lists the rows i < n with keep(i) in this.rows; returns how many. */
  private selectRows(n: number, keep: (i: number) => boolean): number {
    if (this.rows.length < n) this.rows = new Int32Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) if (keep(i)) this.rows[m++] = i;
    return m;
  }

  /**
   * The chunk rows[start .. start+k): gathers their lnf rows into x and target rows into tgt, then
   * logits = x · headᵀ / T. Forward and the backward's recomputation run this same code, so the
   * recomputed logits are the forward's bit for bit.
   */
  private chunkLogits(start: number, k: number, lnf: FloatArray, targetRows: Int32Array, head: FloatArray, temperature: number): void {
    const { c, vOut } = this;
    for (let j = 0; j < k; j++) {
      const i = this.rows[start + j];
      this.x.set(lnf.subarray(i * c, (i + 1) * c), j * c);
      this.tgt[j] = targetRows[i];
    }
    this.kernels.matmul(this.logits, this.x, head, k, vOut, c, false, true, 0);
    if (temperature !== 1) scaleInPlace(this.logits, k * vOut, 1 / temperature);
  }

  private ensureChunk(rows: number): void {
    if (this.cap >= rows) return;
    const A = (size: number) => allocFloat(this.dtype, size);
    this.logits = A(0); // let the old logits go before allocating the new ones
    this.logits = A(rows * this.vOut);
    this.x = A(rows * this.c);
    this.dx = A(rows * this.c);
    this.tgt = new Int32Array(rows);
    this.lp = A(rows);
    this.ent = A(rows);
    this.lseC = A(rows);
    this.cap = rows;
  }
}

function scaleInPlace(x: FloatArray, n: number, k: number): void {
  for (let i = 0; i < n; i++) x[i] *= k;
}
