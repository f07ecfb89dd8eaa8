/**
 * The Llama/Qwen3-family decoder, with its forward and backward written out per layer (llm.c):
 * token embedding → L × [RMSNorm → q,k,v projections → (QK-norm) → RoPE → causal GQA attention →
 * o_proj → residual → RMSNorm → SwiGLU MLP → residual] → RMSNorm → head → log p(target), entropy.
 *
 * Training and scoring run over a packed batch: variable-length sequences back to back, each with
 * its own positions, none attending across a boundary. Generation runs through a KV cache, with
 * prefill and batched single-token decode over many cache slots at once.
 *
 * Every O(N·C²) operation goes through `Kernels` (matmul), so the native BLAS path dominates; the
 * rest are the fused kernels of tensor/kernels.ts. Activation buffers are allocated for the largest
 * batch seen and reused, so steady-state steps allocate nothing.
 * Not here: the optimizer (optimizer.ts), checkpoints (checkpoint.ts), sampling (src/engine).
 */
import type { FloatArray, Kernels } from "../tensor/kernels.ts";
import { type Dims, type ModelConfig, dimsOf, parseModelConfig } from "./config.ts";
import {
  type DType,
  type ParamSpec,
  type ParamTensors,
  allocFloat,
  initParams,
  numParamsOf,
  paramSpecs,
  pointParams,
} from "./params.ts";
import { type Acts, type InferActs, type LayerActs, allocActs, allocInferActs } from "./activations.ts";
import { checkCopies, KVCache, type KVCopy } from "./kv-cache.ts";
import { defaultChunkRows, LmHead } from "./lm-head.ts";
import { ropeTables } from "./rope.ts";
import { Vocab } from "./vocab.ts";

// ------------------------------------------------------------------------------------------------
// batches

/**
 * S sequences packed back to back, N tokens in all. Row i predicts targets[i] from tokens up to i
 * of its own sequence; targets[i] = -1 marks a row with nothing to predict (e.g. a sequence's last).
 * All ids are tokenizer ids.
 */
export interface PackedBatch {
  tokens: Int32Array; // (N)
  targets: Int32Array; // (N)
  cuSeqlens: Int32Array; // (S+1), cuSeqlens[0] = 0, cuSeqlens[S] = N
}

/** Packs token sequences; row i's target is the next token of its sequence (-1 at the end). */
export function packBatch(seqs: ArrayLike<number>[]): PackedBatch {
  const n = seqs.reduce((a, s) => a + s.length, 0);
  const tokens = new Int32Array(n);
  const targets = new Int32Array(n);
  const cuSeqlens = new Int32Array(seqs.length + 1);
  let o = 0;
  seqs.forEach((s, i) => {
    for (let t = 0; t < s.length; t++) {
      tokens[o + t] = s[t];
      targets[o + t] = t + 1 < s.length ? s[t + 1] : -1;
    }
    o += s.length;
    cuSeqlens[i + 1] = o;
  });
  return { tokens, targets, cuSeqlens };
}

export interface ForwardResult {
  /** (N) log p(targets[i]); 0 on rows without a target. A view, valid until the next forward. */
  logp: FloatArray;
  /** (N) entropy of the next-token distribution; 0 on rows without a target. A view. */
  entropy: FloatArray;
}

// ------------------------------------------------------------------------------------------------
// the model

export interface ModelOptions {
  kernels: Kernels;
  /** float32 (default) or float64 (gradient checks; reference kernels only) */
  dtype?: DType;
  /** initialisation seed (default 0); ignored when params is given */
  seed?: number;
  /** an existing flat parameter buffer to use (not copied) */
  params?: FloatArray;
  /**
   * Rows per chunk of the training LM head (lm-head.ts): at most this many × Vout logits exist at
   * once. Default: as many rows as fit 2^25 logits.
   */
  logitChunkRows?: number;
}

export class Model {
  readonly config: ModelConfig;
  readonly dims: Dims;
  readonly kernels: Kernels;
  readonly dtype: DType;
  readonly specs: ParamSpec[];
  readonly numParams: number;
  readonly vocab: Vocab;
  params: ParamTensors;
  readonly grads: ParamTensors;
  private readonly ropeCos: FloatArray; // (maxPos, D/2)
  private readonly ropeSin: FloatArray;
  private acts: Acts | null = null;
  private infer: InferActs | null = null;
  private readonly lmHead: LmHead;
  /** the batch of the last forward, for backward */
  private last: { n: number; cuSeqlens: Int32Array; temperature: number } | null = null;

  constructor(config: ModelConfig, opts: ModelOptions) {
    this.config = parseModelConfig(config);
    this.dims = dimsOf(this.config);
    this.kernels = opts.kernels;
    this.dtype = opts.dtype ?? "float32";
    this.specs = paramSpecs(this.dims);
    this.numParams = numParamsOf(this.specs);
    this.vocab = new Vocab(this.config);
    let flat = opts.params;
    if (flat) {
      this.checkFlat(flat);
    } else {
      flat = allocFloat(this.dtype, this.numParams);
      initParams(flat, this.specs, this.dims, opts.seed ?? 0);
    }
    this.params = pointParams(flat, this.specs, this.dims);
    this.grads = pointParams(allocFloat(this.dtype, this.numParams), this.specs, this.dims);
    [this.ropeCos, this.ropeSin] = ropeTables(this.dims, this.dtype);
    const { c, vOut } = this.dims;
    this.lmHead = new LmHead(this.kernels, this.dtype, c, vOut, opts.logitChunkRows ?? defaultChunkRows(vOut));
  }

  /** Logit floats the training head holds now (at most logitChunkRows × Vout). */
  get logitFloats(): number {
    return this.lmHead.logitFloats;
  }

  /** Replaces the parameter buffer (refit / weight sharing): no copy, the views are re-pointed. */
  setParams(flat: FloatArray): void {
    this.checkFlat(flat);
    this.params = pointParams(flat, this.specs, this.dims);
  }

  zeroGrad(): void {
    this.grads.flat.fill(0);
  }

  private checkFlat(flat: FloatArray): void {
    if (flat.length !== this.numParams)
      throw new Error(`parameter buffer has ${flat.length} values; this config needs ${this.numParams}`);
    if ((flat instanceof Float64Array) !== (this.dtype === "float64"))
      throw new Error(`parameter buffer is a ${flat.constructor.name}; the model's dtype is ${this.dtype}`);
  }

  // ----------------------------------------------------------------------------------------------
  // training forward

  /**
   * Forward over a packed batch: log-probability and entropy of each row's target. Keeps what
   * backward needs. The returned arrays are views into reused buffers. With a temperature T, both
   * are of softmax(logits / T): the distribution a sampler at T draws from (NeMo RL scores RL
   * batches this way, so generation and training logprobs agree).
   */
  forward(batch: PackedBatch, temperature = 1): ForwardResult {
    if (!(temperature > 0)) throw new RangeError(`forward temperature must be > 0, got ${temperature}`);
    const K = this.kernels;
    const { c, f, hq, hkv, d, eps } = this.dims;
    const { tokens, targets, cuSeqlens } = batch;
    const n = tokens.length;
    const s = cuSeqlens.length - 1;
    if (targets.length !== n || cuSeqlens[s] !== n || cuSeqlens[0] !== 0)
      throw new Error(`packed batch is inconsistent: ${n} tokens, ${targets.length} targets, cuSeqlens ends at ${cuSeqlens[s]}`);
    let attSize = 0;
    for (let i = 0; i < s; i++) {
      const len = cuSeqlens[i + 1] - cuSeqlens[i];
      if (len > this.dims.maxPos)
        throw new Error(`sequence ${i} has ${len} tokens; max_position_embeddings is ${this.dims.maxPos}`);
      attSize += hq * len * len;
    }
    const a = this.ensureActs(n, attSize);
    for (let i = 0; i < s; i++)
      for (let t = cuSeqlens[i]; t < cuSeqlens[i + 1]; t++) a.pos[t] = t - cuSeqlens[i];
    for (let i = 0; i < n; i++) {
      a.rows[i] = this.vocab.inputRow(tokens[i]);
      a.targetRows[i] = this.vocab.outputRow(targets[i]);
    }
    const p = this.params;
    const qd = hq * d;
    const kd = hkv * d;

    K.embeddingForward(a.layers[0].resid, a.rows, p.embed, n, c);
    for (let l = 0; l < this.dims.l; l++) {
      const w = p.layers[l];
      const la = a.layers[l];
      const out = l + 1 < this.dims.l ? a.layers[l + 1].resid : a.residF;
      // attention block
      K.rmsnormForward(a.ln, la.ln1Rstd, la.resid, w.inputNorm, n, c, eps);
      K.matmul(la.qRaw, a.ln, w.wq, n, qd, c, false, true, 0);
      K.matmul(la.kRaw, a.ln, w.wk, n, kd, c, false, true, 0);
      K.matmul(la.v, a.ln, w.wv, n, kd, c, false, true, 0);
      this.queriesKeys(a, la, l, n);
      K.attentionForward(la.y, la.att, a.q, a.k, la.v, cuSeqlens, s, hq, hkv, d);
      K.matmul(la.resid2, la.y, w.wo, n, c, qd, false, true, 0);
      K.add(la.resid2, la.resid2, la.resid, n * c);
      // MLP block
      K.rmsnormForward(a.ln, la.ln2Rstd, la.resid2, w.postNorm, n, c, eps);
      K.matmul(la.gate, a.ln, w.wGate, n, f, c, false, true, 0);
      K.matmul(la.up, a.ln, w.wUp, n, f, c, false, true, 0);
      K.swigluForward(a.h, la.gate, la.up, n * f);
      K.matmul(out, a.h, w.wDown, n, c, f, false, true, 0);
      K.add(out, out, la.resid2, n * c);
    }
    K.rmsnormForward(a.lnf, a.lnfRstd, a.residF, p.norm, n, c, eps);
    this.lmHead.forward(a.logp, a.entropy, a.lnf, a.targetRows, n, p.head, temperature);
    this.last = { n, cuSeqlens, temperature };
    return { logp: a.logp.subarray(0, n), entropy: a.entropy.subarray(0, n) };
  }

  // ----------------------------------------------------------------------------------------------
  // training backward

  /**
   * Backward from dL/dlogp (N) and optionally dL/dentropy (N) of the last forward; ACCUMULATES
   * into this.grads (call zeroGrad() before the first micro-batch). Consumes the forward's state.
   */
  backward(dlogp: FloatArray, dentropy: FloatArray | null = null): void {
    if (!this.last || !this.acts) throw new Error("backward() needs a forward() first (and only one backward per forward)");
    const K = this.kernels;
    const { c, f, hq, hkv, d, qkNorm } = this.dims;
    const { n, cuSeqlens, temperature } = this.last;
    const s = cuSeqlens.length - 1;
    const a = this.acts;
    const p = this.params;
    const g = this.grads;
    const qd = hq * d;
    const kd = hkv * d;
    this.last = null;

    // head (in chunks of rows) and final norm
    this.lmHead.backward(a.dln, g.head, dlogp, dentropy, a.lnf, a.targetRows, n, p.head, temperature);
    a.dresid.fill(0, 0, n * c);
    K.rmsnormBackward(a.dresid, g.norm, a.dln, a.residF, p.norm, a.lnfRstd, n, c);

    for (let l = this.dims.l - 1; l >= 0; l--) {
      const w = p.layers[l];
      const gw = g.layers[l];
      const la = a.layers[l];
      // MLP block; in the forward pass this was: out = resid2 + h · Wdownᵀ
      // so dresid (the gradient of out) flows unchanged into dresid2, and into h through Wdown
      K.matmul(a.dh, a.dresid, w.wDown, n, f, c, false, false, 0);
      K.swigluForward(a.h, la.gate, la.up, n * f); // recomputed
      K.matmul(gw.wDown, a.dresid, a.h, c, f, n, true, false, 1);
      a.dgate.fill(0, 0, n * f);
      a.dup.fill(0, 0, n * f);
      K.swigluBackward(a.dgate, a.dup, a.dh, la.gate, la.up, n * f);
      K.matmul(a.dln, a.dgate, w.wGate, n, c, f, false, false, 0);
      K.matmul(a.dln, a.dup, w.wUp, n, c, f, false, false, 1);
      K.rmsnormForward(a.ln, la.ln2Rstd, la.resid2, w.postNorm, n, c, this.dims.eps); // recomputed
      K.matmul(gw.wGate, a.dgate, a.ln, f, c, n, true, false, 1);
      K.matmul(gw.wUp, a.dup, a.ln, f, c, n, true, false, 1);
      K.rmsnormBackward(a.dresid, gw.postNorm, a.dln, la.resid2, w.postNorm, la.ln2Rstd, n, c);
      // attention block; in the forward pass this was: resid2 = resid + y · Woᵀ
      K.matmul(a.dy, a.dresid, w.wo, n, qd, c, false, false, 0);
      K.matmul(gw.wo, a.dresid, la.y, c, qd, n, true, false, 1);
      a.dq.fill(0, 0, n * qd);
      a.dk.fill(0, 0, n * kd);
      a.dv.fill(0, 0, n * kd);
      this.queriesKeys(a, la, l, n); // recomputed
      K.attentionBackward(a.dq, a.dk, a.dv, a.dy, a.q, a.k, la.v, la.att, cuSeqlens, s, hq, hkv, d);
      K.ropeBackward(a.dq, a.dq, a.pos, this.ropeCos, this.ropeSin, n, hq, d);
      K.ropeBackward(a.dk, a.dk, a.pos, this.ropeCos, this.ropeSin, n, hkv, d);
      let dqRaw = a.dq;
      let dkRaw = a.dk;
      if (qkNorm) {
        a.dqRaw.fill(0, 0, n * qd);
        a.dkRaw.fill(0, 0, n * kd);
        K.rmsnormBackward(a.dqRaw, gw.qNorm, a.dq, la.qRaw, w.qNorm, la.qRstd, n * hq, d);
        K.rmsnormBackward(a.dkRaw, gw.kNorm, a.dk, la.kRaw, w.kNorm, la.kRstd, n * hkv, d);
        dqRaw = a.dqRaw;
        dkRaw = a.dkRaw;
      }
      K.matmul(a.dln, dqRaw, w.wq, n, c, qd, false, false, 0);
      K.matmul(a.dln, dkRaw, w.wk, n, c, kd, false, false, 1);
      K.matmul(a.dln, a.dv, w.wv, n, c, kd, false, false, 1);
      K.rmsnormForward(a.ln, la.ln1Rstd, la.resid, w.inputNorm, n, c, this.dims.eps); // recomputed
      K.matmul(gw.wq, dqRaw, a.ln, qd, c, n, true, false, 1);
      K.matmul(gw.wk, dkRaw, a.ln, kd, c, n, true, false, 1);
      K.matmul(gw.wv, a.dv, a.ln, kd, c, n, true, false, 1);
      K.rmsnormBackward(a.dresid, gw.inputNorm, a.dln, la.resid, w.inputNorm, la.ln1Rstd, n, c);
    }
    K.embeddingBackward(g.embed, a.dresid, a.rows, n, c);
  }

  /** Layer l's attention queries and keys into a.q, a.k: (QK-norm) + RoPE of its projections. */
  private queriesKeys(a: Acts, la: LayerActs, l: number, n: number): void {
    const K = this.kernels;
    const { hq, hkv, d, qkNorm, eps } = this.dims;
    const w = this.params.layers[l];
    if (qkNorm) {
      K.rmsnormForward(a.q, la.qRstd, la.qRaw, w.qNorm, n * hq, d, eps);
      K.rmsnormForward(a.k, la.kRstd, la.kRaw, w.kNorm, n * hkv, d, eps);
    }
    K.ropeForward(a.q, qkNorm ? a.q : la.qRaw, a.pos, this.ropeCos, this.ropeSin, n, hq, d);
    K.ropeForward(a.k, qkNorm ? a.k : la.kRaw, a.pos, this.ropeCos, this.ropeSin, n, hkv, d);
  }

  /** Floats of the training activations now allocated (the chunked head's included). */
  get activationFloats(): number {
    const a = this.acts;
    if (!a) return this.lmHead.bufferFloats;
    let total = this.lmHead.bufferFloats;
    for (const la of a.layers) for (const x of Object.values(la)) total += (x as FloatArray).length;
    for (const [key, x] of Object.entries(a)) if (key !== "layers" && typeof x === "object") total += (x as FloatArray).length;
    return total;
  }

  private ensureActs(n: number, attSize: number): Acts {
    const old = this.acts;
    if (old && old.n >= n && old.attSize >= attSize) return old;
    this.acts = null; // let the old buffers go before allocating the new ones
    this.acts = allocActs(this.dims, this.dtype, old, n, attSize);
    return this.acts;
  }

  /** Drops the activation buffers (they are re-allocated on the next call). */
  releaseBuffers(): void {
    this.acts = null;
    this.infer = null;
    this.last = null;
    this.lmHead.release();
  }

  // ----------------------------------------------------------------------------------------------
  // generation: KV cache prefill and batched decode

  createKVCache(slots: number, maxLen: number): KVCache {
    if (maxLen > this.dims.maxPos)
      throw new Error(`KV cache maxLen ${maxLen} exceeds max_position_embeddings ${this.dims.maxPos}`);
    return new KVCache(this.dims, this.dtype, slots, maxLen);
  }

  /**
   * Appends `tokenIds` (tokenizer ids) to cache slot `slot` and returns the logits (Vout) of the
   * next token after the last one. Continues from what the slot already holds.
   */
  prefill(cache: KVCache, slot: number, tokenIds: ArrayLike<number>): FloatArray {
    return this.prefillBatch(cache, [slot], [tokenIds]);
  }

  /**
   * Prefills several slots at once; returns logits (B, Vout) of the next token of each, in order.
   * Logit column r is tokenizer id vocab.rowToId[r].
   *
   * `copies` (prefix caching) fill positions of a slot from another slot within the same pass: in
   * every layer, after this pass's rows have written their keys and values and before attention
   * reads them, in the order given. So a copy may read positions that this same pass computes in
   * its source slot (or that an earlier copy brought there): a prompt shared by several slots is
   * computed once. Copies into a slot must be contiguous from its current length; its rows follow.
   */
  prefillBatch(cache: KVCache, slots: ArrayLike<number>, tokenIds: ArrayLike<number>[], copies: readonly KVCopy[] = []): FloatArray {
    const b = slots.length;
    let r = 0;
    for (const t of tokenIds) {
      if (t.length === 0) throw new Error("prefill needs at least one token per slot");
      r += t.length;
    }
    if (copies.length > 0) checkCopies(cache, slots, tokenIds, copies);
    const ia = this.ensureInfer(r, b);
    const lastRows: number[] = [];
    let o = 0;
    for (let i = 0; i < b; i++) {
      const slot = slots[i];
      const ids = tokenIds[i];
      const start = cache.lengths[slot];
      for (let t = 0; t < ids.length; t++) {
        ia.rows[o + t] = this.vocab.inputRow(ids[t]);
        ia.slot[o + t] = slot;
        ia.pos[o + t] = start + t;
      }
      o += ids.length;
      lastRows.push(o - 1);
    }
    return this.runCached(cache, r, lastRows, copies);
  }

  /**
   * One decode step for B sequences at once: token tokenIds[i] is appended to slot slots[i], and
   * the logits (B, Vout) of each slot's next token are returned (a view, valid until the next call).
   * Logit column r is tokenizer id vocab.rowToId[r].
   */
  decodeStep(cache: KVCache, slots: ArrayLike<number>, tokenIds: ArrayLike<number>): FloatArray {
    const b = slots.length;
    if (tokenIds.length !== b) throw new Error(`decodeStep: ${b} slots but ${tokenIds.length} tokens`);
    const ia = this.ensureInfer(b, b);
    const lastRows: number[] = [];
    for (let i = 0; i < b; i++) {
      ia.rows[i] = this.vocab.inputRow(tokenIds[i]);
      ia.slot[i] = slots[i];
      ia.pos[i] = cache.lengths[slots[i]];
      lastRows.push(i);
    }
    return this.runCached(cache, b, lastRows);
  }

  /** The shared cached pass over the R rows staged in this.infer (rows, slot, pos). */
  private runCached(cache: KVCache, r: number, lastRows: number[], copies: readonly KVCopy[] = []): FloatArray {
    const K = this.kernels;
    const { c, f, hq, hkv, d, vOut, qkNorm, eps } = this.dims;
    const ia = this.infer!;
    const p = this.params;
    const qd = hq * d;
    const kd = hkv * d;
    const maxLen = cache.maxLen;
    // validate, then advance each slot's length past its rows
    const seen = new Map<number, number>();
    for (let i = 0; i < r; i++) {
      const slot = ia.slot[i];
      if (slot < 0 || slot >= cache.slots) throw new Error(`cache slot ${slot} out of range (0..${cache.slots - 1})`);
      if (ia.pos[i] >= maxLen) throw new Error(`cache slot ${slot} is full (${maxLen} positions)`);
      const expected = seen.get(slot) ?? cache.lengths[slot];
      if (ia.pos[i] !== expected) throw new Error(`cache slot ${slot} appears twice in one decode step`);
      seen.set(slot, expected + 1);
    }
    for (const [slot, len] of seen) cache.lengths[slot] = len;

    K.embeddingForward(ia.x, ia.rows, p.embed, r, c);
    for (let l = 0; l < this.dims.l; l++) {
      const w = p.layers[l];
      K.rmsnormForward(ia.ln, ia.rstd, ia.x, w.inputNorm, r, c, eps);
      K.matmul(ia.qRaw, ia.ln, w.wq, r, qd, c, false, true, 0);
      K.matmul(ia.kRaw, ia.ln, w.wk, r, kd, c, false, true, 0);
      K.matmul(ia.v, ia.ln, w.wv, r, kd, c, false, true, 0);
      let qIn = ia.qRaw;
      let kIn = ia.kRaw;
      if (qkNorm) {
        K.rmsnormForward(ia.qn, ia.rstd, ia.qRaw, w.qNorm, r * hq, d, eps);
        K.rmsnormForward(ia.kn, ia.rstd, ia.kRaw, w.kNorm, r * hkv, d, eps);
        qIn = ia.qn;
        kIn = ia.kn;
      }
      K.ropeForward(ia.q, qIn, ia.pos, this.ropeCos, this.ropeSin, r, hq, d);
      K.ropeForward(ia.k, kIn, ia.pos, this.ropeCos, this.ropeSin, r, hkv, d);
      const kc = cache.k[l];
      const vc = cache.v[l];
      for (let i = 0; i < r; i++) {
        const dst = (ia.slot[i] * maxLen + ia.pos[i]) * kd;
        kc.set(ia.k.subarray(i * kd, (i + 1) * kd), dst);
        vc.set(ia.v.subarray(i * kd, (i + 1) * kd), dst);
      }
      for (const cp of copies) cache.copyPositions(cp.src, cp.dst, cp.start, cp.end, l);
      K.attentionCached(ia.y, ia.q, kc, vc, ia.slot, ia.pos, r, hq, hkv, d, maxLen);
      K.matmul(ia.tmp, ia.y, w.wo, r, c, qd, false, true, 0);
      K.add(ia.x, ia.x, ia.tmp, r * c);
      K.rmsnormForward(ia.ln, ia.rstd, ia.x, w.postNorm, r, c, eps);
      K.matmul(ia.gate, ia.ln, w.wGate, r, f, c, false, true, 0);
      K.matmul(ia.up, ia.ln, w.wUp, r, f, c, false, true, 0);
      K.swigluForward(ia.h, ia.gate, ia.up, r * f);
      K.matmul(ia.tmp, ia.h, w.wDown, r, c, f, false, true, 0);
      K.add(ia.x, ia.x, ia.tmp, r * c);
    }
    // the head only for the rows whose next token is wanted
    const b = lastRows.length;
    for (let i = 0; i < b; i++) ia.xl.set(ia.x.subarray(lastRows[i] * c, (lastRows[i] + 1) * c), i * c);
    K.rmsnormForward(ia.lnl, ia.rstdl, ia.xl, p.norm, b, c, eps);
    K.matmul(ia.logits, ia.lnl, p.head, b, vOut, c, false, true, 0);
    return ia.logits.subarray(0, b * vOut);
  }

  private ensureInfer(r: number, b: number): InferActs {
    const old = this.infer;
    if (old && old.r >= r && old.b >= b) return old;
    this.infer = allocInferActs(this.dims, this.dtype, old, r, b);
    return this.infer;
  }
}
