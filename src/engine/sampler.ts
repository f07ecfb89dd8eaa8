/**
 * Next-token sampling over one row of logits (Vout model rows): temperature, top-k, top-p, greedy,
 * with the logprob of the chosen row under the distribution actually sampled from, as vLLM's
 * `processed_logprobs` reports it:
 *   - temperature > 0: z = logits / T → keep the top-k rows (ties with the k-th kept, as vLLM) →
 *     keep the smallest most-likely set whose mass reaches top_p → renormalise → sample.
 *     The logprob (and every top-logprob alternative) is log p under that renormalised distribution.
 *   - temperature 0 (greedy): argmax; vLLM ignores top-k/top-p and temperature for greedy requests,
 *     so the logprob is the raw log-softmax (the temperature-1 distribution).
 * Rows, not tokenizer ids: the caller maps rows through the model's Vocab. The unknown row of a
 * compact vocabulary is not among the logits, so it is never sampled.
 * Cost: O(V) per token in every mode, nothing sorted: greedy and plain temperature are one or two
 * passes; top-k finds the k-th largest logit by quickselect; top-p finds the weight threshold of
 * the nucleus by a quickselect on mass. The draw walks the kept rows in row order. Results are
 * those of sorting the vocabulary (sampler-sorting.ts, the tests' reference), draw for draw.
 * Scratch buffers are allocated once per sampler.
 * Not here: the PRNG (src/model/rng.ts) and the mapping to tokenizer ids (scheduler.ts).
 */
import type { FloatArray } from "../tensor/kernels.ts";
import type { SamplingParams } from "./types.ts";

/** Below this temperature a request is greedy (vLLM's _SAMPLING_EPS). */
export const GREEDY_EPS = 1e-5;

/** Anything with a uniform draw in [0, 1), e.g. src/model/rng.ts's Rng. */
export interface UniformSource {
  uniform(): number;
}

export interface RowLogprob {
  row: number;
  logprob: number;
}

export interface Sample extends RowLogprob {
  /** The `topN` most likely rows of the sampled-from distribution, most likely first. */
  top: RowLogprob[] | null;
}

export function isGreedy(p: SamplingParams): boolean {
  return !(p.temperature >= GREEDY_EPS);
}

export class Sampler {
  private readonly w: Float64Array; // (V) unnormalised probabilities of the candidates, by row
  private readonly cand: Int32Array; // (V) candidate rows, in row order
  private readonly sel: Float64Array; // (V) selection scratch (top-k and top-p thresholds)

  constructor(readonly v: number) {
    this.w = new Float64Array(v);
    this.cand = new Int32Array(v);
    this.sel = new Float64Array(v);
  }

  /** Samples from logits[off .. off+V). `rng` is not touched for greedy requests. */
  sample(logits: FloatArray, off: number, p: SamplingParams, rng: UniformSource, topN = 0): Sample {
    return isGreedy(p) ? this.greedy(logits, off, topN) : this.stochastic(logits, off, p, rng, topN);
  }

  // ----------------------------------------------------------------------------------------------

  private greedy(logits: FloatArray, off: number, topN: number): Sample {
    const V = this.v;
    let max = -Infinity;
    let arg = 0;
    for (let r = 0; r < V; r++) {
      const l = logits[off + r];
      if (l > max) {
        max = l;
        arg = r;
      }
    }
    let z = 0;
    for (let r = 0; r < V; r++) z += Math.exp(logits[off + r] - max);
    const lse = max + Math.log(z);
    let top: RowLogprob[] | null = null;
    if (topN > 0) {
      const w = this.w;
      for (let r = 0; r < V; r++) {
        w[r] = logits[off + r];
        this.cand[r] = r;
      }
      top = this.topOf(this.cand, V, topN).map((row) => ({ row, logprob: w[row] - lse }));
    }
    return { row: arg, logprob: logits[off + arg] - lse, top };
  }

  private stochastic(logits: FloatArray, off: number, p: SamplingParams, rng: UniformSource, topN: number): Sample {
    const V = this.v;
    const { w, cand } = this;
    const invT = 1 / p.temperature;
    let max = -Infinity;
    for (let r = 0; r < V; r++) if (logits[off + r] > max) max = logits[off + r];

    if (!(p.topK > 0 && p.topK < V) && p.topP >= 1) return this.full(logits, off, max, invT, rng, topN);
    // 1) top-k: candidates are the rows whose logit reaches the k-th largest
    let m = 0;
    if (p.topK > 0 && p.topK < V) {
      const thr = this.kthLargest(logits, off, p.topK);
      for (let r = 0; r < V; r++) if (logits[off + r] >= thr) cand[m++] = r;
    } else {
      for (let r = 0; r < V; r++) cand[m++] = r;
    }
    // 2) temperature: w = exp((l - max) / T) over the candidates
    let total = 0;
    for (let i = 0; i < m; i++) {
      const r = cand[i];
      const e = Math.exp((logits[off + r] - max) * invT);
      w[r] = e;
      total += e;
    }
    // 3) top-p: the most likely rows until their mass reaches topP (at least one)
    let mass = total;
    if (p.topP < 1) {
      m = this.nucleus(m, total * p.topP);
      mass = 0;
      for (let i = 0; i < m; i++) mass += w[cand[i]];
    }
    // 4) inverse-CDF draw over the kept rows, in row order
    const u = rng.uniform() * mass;
    let acc = 0;
    let pick = cand[m - 1];
    for (let i = 0; i < m; i++) {
      acc += w[cand[i]];
      if (u < acc) {
        pick = cand[i];
        break;
      }
    }
    const logMass = Math.log(mass);
    let top: RowLogprob[] | null = null;
    if (topN > 0) top = this.topOf(cand, m, topN).map((row) => ({ row, logprob: Math.log(w[row]) - logMass }));
    return { row: pick, logprob: Math.log(w[pick]) - logMass, top };
  }

  /** Temperature only (the common RL setting): one exp pass, then an inverse-CDF walk. */
  private full(logits: FloatArray, off: number, max: number, invT: number, rng: UniformSource, topN: number): Sample {
    const V = this.v;
    const w = this.w;
    let total = 0;
    for (let r = 0; r < V; r++) {
      const e = Math.exp((logits[off + r] - max) * invT);
      w[r] = e;
      total += e;
    }
    const u = rng.uniform() * total;
    let acc = 0;
    let pick = V - 1;
    for (let r = 0; r < V; r++) {
      acc += w[r];
      if (u < acc) {
        pick = r;
        break;
      }
    }
    const logTotal = Math.log(total);
    let top: RowLogprob[] | null = null;
    if (topN > 0) {
      for (let r = 0; r < V; r++) this.cand[r] = r;
      top = this.topOf(this.cand, V, topN).map((row) => ({ row, logprob: Math.log(w[row]) - logTotal }));
    }
    return { row: pick, logprob: Math.log(w[pick]) - logTotal, top };
  }

  /** The k-th largest logit (k ≥ 1), by quickselect on a scratch copy: O(V), no sort. */
  private kthLargest(logits: FloatArray, off: number, k: number): number {
    const a = this.sel;
    const n = this.v;
    for (let i = 0; i < n; i++) a[i] = logits[off + i];
    // the element that would sit at index k-1 of a descending sort
    const target = k - 1;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const pivot = median3(a[lo], a[mid], a[hi]);
      let i = lo;
      let j = hi;
      while (i <= j) {
        while (a[i] > pivot) i++;
        while (a[j] < pivot) j--;
        if (i <= j) {
          const t = a[i];
          a[i] = a[j];
          a[j] = t;
          i++;
          j--;
        }
      }
      if (target <= j) hi = j;
      else if (target >= i) lo = i;
      else break;
    }
    return a[target];
  }

  /**
   * Keeps, in place in cand[0..m) (row order preserved), the nucleus: walking the candidates most
   * likely first (ties: lower row first), a row is kept while the mass before it is below `need`,
   * and at least one is. That is vLLM's rule. Instead of sorting, a quickselect on mass finds the
   * weight τ of the last kept row and how many rows of weight τ are kept (the lowest ones):
   * expected O(m). Returns how many rows are kept.
   */
  private nucleus(m: number, need: number): number {
    const { w, cand } = this;
    const a = this.sel;
    for (let i = 0; i < m; i++) a[i] = w[cand[i]];
    let tau: number;
    let ties: number;
    if (!(need > 0)) {
      // only the "at least one" rule keeps a row: the most likely
      tau = -Infinity;
      for (let i = 0; i < m; i++) if (a[i] > tau) tau = a[i];
      ties = 1;
    } else {
      // a[lo..hi) holds the undecided weights, all below those before lo, whose mass is `above` (< need)
      let lo = 0;
      let hi = m;
      let above = 0;
      for (;;) {
        const pivot = median3(a[lo], a[(lo + hi) >> 1], a[hi - 1]);
        // three-way partition: a[lo..lt) > pivot, a[lt..gt) = pivot, a[gt..hi) < pivot
        let lt = lo;
        let i = lo;
        let gt = hi;
        let greater = 0;
        while (i < gt) {
          const x = a[i];
          if (x > pivot) {
            a[i] = a[lt];
            a[lt++] = x;
            i++;
            greater += x;
          } else if (x < pivot) {
            a[i] = a[--gt];
            a[gt] = x;
          } else i++;
        }
        if (lt > lo && above + greater >= need) {
          hi = lt; // the last kept row is among the larger ones
          continue;
        }
        // the rows equal to the pivot, one at a time, as the sorted walk adds them
        let s = above + greater;
        let j = 0;
        const e = gt - lt;
        while (j < e && s < need) {
          s += pivot;
          j++;
        }
        if (s >= need || gt === hi) {
          tau = pivot;
          ties = j;
          break;
        }
        above = s;
        lo = gt;
      }
    }
    let n = 0;
    for (let i = 0; i < m; i++) {
      const r = cand[i];
      const x = w[r];
      if (x > tau || (x === tau && ties-- > 0)) cand[n++] = r;
    }
    return n;
  }

  /** The `n` rows of rows[0..m) with the largest w, most likely first (insertion into a short list). */
  private topOf(rows: Int32Array, m: number, n: number): number[] {
    const w = this.w;
    const best: number[] = [];
    for (let i = 0; i < m; i++) {
      const r = rows[i];
      const x = w[r];
      if (best.length === n && x <= w[best[n - 1]]) continue;
      let j = best.length < n ? best.length : n - 1;
      if (best.length < n) best.push(r);
      while (j > 0 && w[best[j - 1]] < x) {
        best[j] = best[j - 1];
        j--;
      }
      best[j] = r;
    }
    return best;
  }
}

function median3(a: number, b: number, c: number): number {
  if (a < b) return b < c ? b : a < c ? c : a;
  return a < c ? a : b < c ? c : b;
}
