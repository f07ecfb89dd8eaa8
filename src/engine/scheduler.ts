/**
 * Continuous batching over a fixed set of KV-cache slots. One `step()` is one model pass:
 *   1. queued requests take free slots (FIFO);
 *   2. every live sequence contributes rows: a decoding sequence its last token, a prefilling one
 *      the next chunk of its prompt (within maxBatchTokens, so a long prompt never stalls decoding
 *      for more than one chunk);
 *   3. one cached pass over all those rows (decodeStep when all are decodes, else one mixed
 *      prefillBatch), logits for each sequence's last row;
 *   4. sequences whose prompt is complete sample a token; finished ones leave at once.
 *
 * Automatic prefix caching (vLLM's enable_prefix_caching; on by default): the scheduler records the
 * token ids whose keys and values each slot holds, live or retained after its sequence finished
 * (until the slot is given to another), and the policy version it was filled under. A new request
 * takes a free slot whose whole retained content begins its prompt when there is one (a second
 * turn lands on its first turn and keeps it), else the emptiest / least recently used free slot,
 * keeping whatever prefix that slot shares with it. Before each prompt chunk is staged, the
 * longest prefix any other slot holds beyond what the sequence has is copied instead of computed,
 * including positions other sequences compute in this same pass (the model copies them layer by
 * layer before attention; see Model.prefillBatch): a group's identical prompts and a shared system
 * prompt are computed once. The last prompt token is always computed (its logits are needed).
 * A weight update makes every slot's content unusable for reuse; in-flight sequences continue on
 * their own cache as before. Matching compares token ids directly, skipping at once the slots that
 * differ at the position they would have to match; it runs once per admitted request and per
 * staged prompt chunk (well under 1% of the wall time of bench/prefix-cache.bench.ts).
 *
 * Single-threaded and synchronous: requests, cancellations and weight swaps are applied by the
 * caller between steps (host.ts). Token and finish events go to a sink.
 * Not here: threads and messages (host.ts, worker.ts), the sampler's maths (sampler.ts).
 */
import type { KVCache, KVCopy } from "../model/kv-cache.ts";
import type { Model } from "../model/model.ts";
import { deriveSeedFromIds } from "../model/derive-seed.ts";
import { Rng } from "../model/rng.ts";
import { Sampler } from "./sampler.ts";
import type { FinishReason, GenerateRequest, GenerateResult, GeneratedToken, TokenLogprob } from "./types.ts";

export interface SchedulerOptions {
  /** KV-cache slots: the most sequences decoded at once; more requests wait in a queue. */
  slots: number;
  /** Longest prompt + generation. */
  maxModelLen: number;
  /** Rows per model pass (decode rows + prefill chunk rows); default 256. */
  maxBatchTokens?: number;
  /** Token ids that end every request (EOS), besides each request's stopTokenIds. */
  eosTokenIds?: readonly number[];
  /** Version of the initial weights (default 0). */
  policyVersion?: number;
  /** Automatic prefix caching (default true): reuse K/V of prompt prefixes other slots hold. */
  prefixCaching?: boolean;
}

/** Counters since the scheduler started. */
export interface SchedulerStats {
  /** model passes */
  steps: number;
  /** rows computed: decode rows plus prompt rows */
  rows: number;
  /** prompt tokens of the requests given a slot */
  promptTokens: number;
  /** of those, tokens whose keys and values came from the prefix cache instead of being computed */
  cachedPromptTokens: number;
  /** milliseconds spent looking for prefix matches (admission and chunk staging) */
  prefixLookupMs: number;
}

export interface SchedulerSink {
  token(id: number, token: GeneratedToken): void;
  finish(id: number, result: GenerateResult): void;
}

interface Sequence {
  id: number;
  req: GenerateRequest;
  prompt: Int32Array;
  /** -1 while queued */
  slot: number;
  /** prompt tokens already written to the cache (or staged to be in this step) */
  prefilled: number;
  /** prompt tokens reused from the prefix cache */
  cached: number;
  tokens: number[];
  logprobs: number[];
  top: TokenLogprob[][] | null;
  versions: number[];
  /** the version of the step that sampled each generated token */
  tokenVersions: number[];
  stop: Set<number>;
  rng: Rng;
}

/** Why a request cannot run, or null. */
export function validateRequest(req: GenerateRequest, maxModelLen: number, hasId: (id: number) => boolean): string | null {
  const n = req.promptTokenIds.length;
  if (n === 0) return "the prompt is empty";
  if (n >= maxModelLen) return `the prompt has ${n} tokens; max_model_len is ${maxModelLen} (room for at least one generated token is needed)`;
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1) return `maxTokens must be a positive integer, got ${req.maxTokens}`;
  const s = req.sampling;
  if (!(s.temperature >= 0)) return `temperature must be ≥ 0, got ${s.temperature}`;
  if (!(s.topP > 0 && s.topP <= 1)) return `topP must be in (0, 1], got ${s.topP}`;
  if (!Number.isInteger(s.topK)) return `topK must be an integer, got ${s.topK}`;
  for (const id of req.promptTokenIds) if (!hasId(id)) return `prompt token id ${id} is outside the model's vocabulary`;
  return null;
}

export class Scheduler {
  readonly slots: number;
  readonly maxModelLen: number;
  readonly maxBatchTokens: number;
  /** Version of the weights the next step runs under. */
  version: number;
  private readonly queue: Sequence[] = [];
  private readonly live: (Sequence | null)[];
  private readonly byId = new Map<number, Sequence>();
  private readonly cache: KVCache;
  private readonly sampler: Sampler;
  private readonly eos: readonly number[];
  // per-step staging, allocated once
  private readonly stepSlots: Int32Array;
  private readonly stepTokens: Int32Array;
  private readonly stepSeqs: (Sequence | null)[];
  private readonly oneToken: Int32Array[];
  // prefix caching (all empty when off): per slot, the token ids whose K/V the slot holds (or will
  // once this step's pass ran), how many, under which weights, and when it was last of use
  private readonly prefixCaching: boolean;
  private readonly slotTokens: Int32Array;
  private readonly held: Int32Array;
  private readonly slotVersion: Float64Array;
  private readonly lastUse: Float64Array;
  private clock = 0;
  private readonly copies: KVCopy[] = [];
  readonly stats: SchedulerStats = { steps: 0, rows: 0, promptTokens: 0, cachedPromptTokens: 0, prefixLookupMs: 0 };

  constructor(
    private readonly model: Model,
    opts: SchedulerOptions,
  ) {
    this.slots = opts.slots;
    this.maxModelLen = opts.maxModelLen;
    this.maxBatchTokens = Math.max(opts.maxBatchTokens ?? 256, 1);
    this.version = opts.policyVersion ?? 0;
    this.eos = opts.eosTokenIds ?? [];
    this.cache = model.createKVCache(this.slots, this.maxModelLen);
    this.sampler = new Sampler(model.dims.vOut);
    this.live = new Array<Sequence | null>(this.slots).fill(null);
    this.stepSlots = new Int32Array(this.slots);
    this.stepTokens = new Int32Array(this.slots);
    this.stepSeqs = new Array<Sequence | null>(this.slots).fill(null);
    this.oneToken = Array.from({ length: this.slots }, () => new Int32Array(1));
    this.prefixCaching = opts.prefixCaching ?? true;
    const n = this.prefixCaching ? this.slots : 0;
    this.slotTokens = new Int32Array(n * this.maxModelLen);
    this.held = new Int32Array(n);
    this.slotVersion = new Float64Array(n);
    this.lastUse = new Float64Array(n);
  }

  /** Sequences queued or running. */
  get pending(): number {
    return this.byId.size;
  }

  get hasWork(): boolean {
    return this.byId.size > 0;
  }

  /** Queues a request; throws (before queuing) when it cannot run. */
  submit(id: number, req: GenerateRequest): void {
    if (this.byId.has(id)) throw new Error(`request id ${id} is already in use`);
    const vocab = this.model.vocab;
    const bad = validateRequest(req, this.maxModelLen, (t) => (vocab.compact ? t >= 0 : vocab.outputRow(t) >= 0));
    if (bad) throw new RangeError(bad);
    // A seed names a stream per prompt: the turns of one multi-turn rollout (same request seed,
    // longer prompt each time) do not reuse one another's random numbers. Still a pure function of
    // (seed, prompt), so batching and arrival order change nothing.
    const seed = req.sampling.seed === undefined ? Math.floor(Math.random() * 4294967296) : deriveSeedFromIds(req.sampling.seed, req.promptTokenIds);
    const seq: Sequence = {
      id,
      req,
      prompt: Int32Array.from(req.promptTokenIds),
      slot: -1,
      prefilled: 0,
      cached: 0,
      tokens: [],
      logprobs: [],
      top: (req.topLogprobs ?? 0) > 0 ? [] : null,
      versions: [],
      tokenVersions: [],
      stop: new Set([...req.stopTokenIds, ...this.eos]),
      rng: new Rng(seed),
    };
    this.byId.set(id, seq);
    this.queue.push(seq);
  }

  /** Ends a request now with finish reason "abort", freeing its slot. False when unknown. */
  cancel(id: number, sink: SchedulerSink): boolean {
    const seq = this.byId.get(id);
    if (!seq) return false;
    if (seq.slot < 0) this.queue.splice(this.queue.indexOf(seq), 1);
    this.finish(seq, "abort", sink);
    return true;
  }

  /** Aborts every queued and running request (engine shutdown). */
  cancelAll(sink: SchedulerSink): void {
    for (const id of [...this.byId.keys()]) this.cancel(id, sink);
  }

  /**
   * Weights swap (between steps): the caller has re-pointed or rewritten the parameters. Nothing
   * cached before it is reused after it (in-flight sequences keep their own cache).
   */
  bumpVersion(): number {
    if (this.prefixCaching) for (let s = 0; s < this.slots; s++) if (this.live[s] === null) this.held[s] = 0;
    return ++this.version;
  }

  // ----------------------------------------------------------------------------------------------
  // one step

  /** One model pass over all live sequences; returns the rows computed (0 when idle). */
  step(sink: SchedulerSink): number {
    this.admit();
    // stage rows: decodes first (one token each), then prefill chunks within the token budget
    let b = 0;
    let decodes = 0;
    const caching = this.prefixCaching;
    const maxLen = this.maxModelLen;
    for (const seq of this.live) {
      if (seq === null || seq.prefilled < seq.prompt.length) continue;
      this.stepSlots[b] = seq.slot;
      const token = seq.tokens[seq.tokens.length - 1];
      this.stepTokens[b] = token;
      this.stepSeqs[b++] = seq;
      decodes++;
      if (caching) this.slotTokens[seq.slot * maxLen + this.held[seq.slot]++] = token;
    }
    let budget = Math.max(this.maxBatchTokens - decodes, 1);
    const chunks: Int32Array[] = [];
    // Prefill oldest first: in slot order, a busy low slot that keeps getting new requests would
    // starve the prompts waiting in high slots.
    const prefilling: Sequence[] = [];
    for (const seq of this.live) if (seq !== null && seq.prefilled < seq.prompt.length) prefilling.push(seq);
    prefilling.sort((x, y) => x.id - y.id);
    const copies = this.copies;
    copies.length = 0;
    for (const seq of prefilling) {
      if (budget <= 0) break;
      if (caching) {
        const t0 = performance.now();
        this.reuse(seq, copies);
        this.stats.prefixLookupMs += performance.now() - t0;
      }
      const n = Math.min(seq.prompt.length - seq.prefilled, budget);
      const chunk = seq.prompt.subarray(seq.prefilled, seq.prefilled + n);
      chunks.push(chunk);
      if (caching) {
        this.slotTokens.set(chunk, seq.slot * maxLen + seq.prefilled);
        this.held[seq.slot] += n;
      }
      seq.prefilled += n;
      budget -= n;
      this.stepSlots[b] = seq.slot;
      this.stepSeqs[b++] = seq;
    }
    if (b === 0) return 0;

    const model = this.model;
    let logits;
    if (chunks.length === 0) {
      logits = model.decodeStep(this.cache, this.stepSlots.subarray(0, b), this.stepTokens.subarray(0, b));
    } else {
      const ids: ArrayLike<number>[] = [];
      for (let i = 0; i < decodes; i++) {
        this.oneToken[i][0] = this.stepTokens[i];
        ids.push(this.oneToken[i]);
      }
      ids.push(...chunks);
      logits = model.prefillBatch(this.cache, this.stepSlots.subarray(0, b), ids, copies);
    }
    const rows = decodes + chunks.reduce((a, c) => a + c.length, 0);
    this.stats.steps++;
    this.stats.rows += rows;

    // sample for every sequence whose next token is now known
    const vOut = model.dims.vOut;
    const rowToId = model.vocab.rowToId;
    for (let i = 0; i < b; i++) {
      const seq = this.stepSeqs[i]!;
      this.stepSeqs[i] = null;
      if (seq.prefilled < seq.prompt.length) continue; // mid-prompt chunk: logits unused
      const s = this.sampler.sample(logits, i * vOut, seq.req.sampling, seq.rng, seq.req.topLogprobs ?? 0);
      const tokenId = rowToId[s.row];
      const token: GeneratedToken = { tokenId, logprob: s.logprob };
      if (s.top) token.top = s.top.map((t) => ({ tokenId: rowToId[t.row], logprob: t.logprob }));
      seq.tokens.push(tokenId);
      seq.logprobs.push(s.logprob);
      if (seq.top) seq.top.push(token.top ?? []);
      if (seq.versions[seq.versions.length - 1] !== this.version) seq.versions.push(this.version);
      seq.tokenVersions.push(this.version);
      sink.token(seq.id, token);
      if (seq.stop.has(tokenId)) this.finish(seq, "stop", sink);
      else if (seq.tokens.length >= seq.req.maxTokens || seq.prompt.length + seq.tokens.length >= this.maxModelLen)
        this.finish(seq, "length", sink);
    }
    return rows;
  }

  /** Moves queued requests into free slots. */
  private admit(): void {
    if (!this.prefixCaching) {
      for (let slot = 0; slot < this.slots && this.queue.length > 0; slot++) {
        if (this.live[slot] !== null) continue;
        const seq = this.queue.shift()!;
        seq.slot = slot;
        this.cache.reset(slot);
        this.live[slot] = seq;
        this.stats.promptTokens += seq.prompt.length;
      }
      return;
    }
    while (this.queue.length > 0) {
      const seq = this.queue[0];
      const t0 = performance.now();
      const slot = this.pickSlot(seq.prompt);
      if (slot < 0) break;
      this.queue.shift();
      // keep what the slot already holds of this prompt (all but its last token at most)
      const keep = this.held[slot] > 0 ? this.commonPrefix(slot, seq.prompt, 0, seq.prompt.length - 1) : 0;
      this.stats.prefixLookupMs += performance.now() - t0;
      this.cache.truncate(slot, keep);
      this.held[slot] = keep;
      this.slotVersion[slot] = this.version;
      this.lastUse[slot] = ++this.clock;
      seq.slot = slot;
      seq.prefilled = keep;
      seq.cached = keep;
      this.live[slot] = seq;
      this.stats.promptTokens += seq.prompt.length;
      this.stats.cachedPromptTokens += keep;
    }
  }

  /**
   * The free slot for a new prompt (-1: none): one whose whole retained content begins the prompt
   * (the longest; nothing worth keeping is lost), else the least worth keeping: an empty one, else
   * the least recently used.
   */
  private pickSlot(prompt: Int32Array): number {
    const maxLen = this.maxModelLen;
    let whole = -1;
    let wholeLen = 0;
    let victim = -1;
    let victimUse = Infinity;
    for (let s = 0; s < this.slots; s++) {
      if (this.live[s] !== null) continue;
      const h = this.held[s];
      if (h === 0) {
        if (victimUse >= 0) {
          victim = s;
          victimUse = -1;
        }
        continue;
      }
      if (h > wholeLen && h < prompt.length && this.slotTokens[s * maxLen + h - 1] === prompt[h - 1] && this.commonPrefix(s, prompt, 0, h) === h) {
        whole = s;
        wholeLen = h;
      }
      if (this.lastUse[s] < victimUse) {
        victim = s;
        victimUse = this.lastUse[s];
      }
    }
    return whole >= 0 ? whole : victim;
  }

  /**
   * Before staging a prefilling sequence's next chunk: copies the longest prefix of its prompt
   * that another slot holds beyond what it has (written before this step or staged in it), up to
   * the prompt's last token, which is always computed.
   */
  private reuse(seq: Sequence, copies: KVCopy[]): void {
    const slot = seq.slot;
    if (this.slotVersion[slot] !== this.version) return; // admitted under older weights
    const prompt = seq.prompt;
    const limit = prompt.length - 1;
    const p = seq.prefilled;
    if (p >= limit) return;
    const maxLen = this.maxModelLen;
    const tokens = this.slotTokens;
    let best = p;
    let src = -1;
    for (let s = 0; s < this.slots; s++) {
      // to beat the best so far a slot must agree at that position: most slots fail there
      if (s === slot || this.held[s] <= best || this.slotVersion[s] !== this.version || tokens[s * maxLen + best] !== prompt[best]) continue;
      const m = this.commonPrefix(s, prompt, 0, limit);
      if (m > best) {
        best = m;
        src = s;
      }
    }
    if (src < 0) return;
    copies.push({ src, dst: slot, start: p, end: best });
    tokens.copyWithin(slot * maxLen + p, src * maxLen + p, src * maxLen + best);
    this.held[slot] = best;
    this.lastUse[src] = ++this.clock;
    seq.cached += best - p;
    this.stats.cachedPromptTokens += best - p;
    seq.prefilled = best;
  }

  /** The first position in [from, min(end, held)) where slot s's tokens and `ids` differ (else that bound). */
  private commonPrefix(s: number, ids: Int32Array, from: number, end: number): number {
    const tokens = this.slotTokens;
    const base = s * this.maxModelLen;
    const stop = Math.min(end, this.held[s]);
    let i = from;
    while (i < stop && tokens[base + i] === ids[i]) i++;
    return i;
  }

  private finish(seq: Sequence, reason: FinishReason, sink: SchedulerSink): void {
    if (seq.slot >= 0) {
      this.live[seq.slot] = null;
      // with prefix caching the slot's content stays for reuse until the slot is given away
      if (!this.prefixCaching) this.cache.reset(seq.slot);
      else if (this.slotVersion[seq.slot] !== this.version) this.held[seq.slot] = 0;
      else this.lastUse[seq.slot] = ++this.clock;
      seq.slot = -1;
    }
    this.byId.delete(seq.id);
    const result: GenerateResult = {
      promptTokenIds: Array.from(seq.prompt),
      generationTokenIds: seq.tokens,
      generationLogProbs: seq.logprobs,
      finishReason: reason,
      policyVersion: seq.versions[0] ?? this.version,
      policyVersions: seq.versions.length > 0 ? seq.versions : [this.version],
      generationPolicyVersions: seq.tokenVersions,
      cachedPromptTokens: seq.cached,
    };
    if (seq.top) result.topLogprobs = seq.top;
    sink.finish(seq.id, result);
  }
}
