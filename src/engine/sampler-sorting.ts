/**
 * The sampler written the plain way: sort the whole vocabulary for every token. It defines what
 * `Sampler` (sampler.ts) must return, draw for draw: tests compare the two on random logits with
 * the same seeds, and bench:real-size times both at V = 151,936. Test and benchmark support only.
 *
 * Orders, where one matters:
 *   - "most likely first" is a stable sort: by value descending, then by row ascending;
 *   - top-k keeps every row whose logit reaches the k-th largest (ties with it included);
 *   - top-p walks the candidates most likely first (by weight) and keeps a row while the mass
 *     before it is below top_p · total (at least one row);
 *   - the inverse-CDF draw walks the kept rows in row order, so the fast sampler need not sort them.
 */
import type { FloatArray } from "../tensor/kernels.ts";
import type { RowLogprob, Sample, UniformSource } from "./sampler.ts";
import { isGreedy } from "./sampler.ts";
import type { SamplingParams } from "./types.ts";

/** Rows sorted most likely first by key (stable: ties keep row order). */
function sortedDesc(rows: number[], key: (r: number) => number): number[] {
  return [...rows].sort((a, b) => key(b) - key(a) || a - b);
}

export function sampleBySorting(
  logits: FloatArray,
  off: number,
  v: number,
  p: SamplingParams,
  rng: UniformSource,
  topN = 0,
): Sample {
  const l = (r: number) => logits[off + r];
  const all = Array.from({ length: v }, (_, r) => r);
  const byLogit = sortedDesc(all, l);
  const max = l(byLogit[0]);
  if (isGreedy(p)) {
    let z = 0;
    for (let r = 0; r < v; r++) z += Math.exp(l(r) - max);
    const lse = max + Math.log(z);
    const top: RowLogprob[] | null = topN > 0 ? byLogit.slice(0, topN).map((row) => ({ row, logprob: l(row) - lse })) : null;
    return { row: byLogit[0], logprob: l(byLogit[0]) - lse, top };
  }
  const invT = 1 / p.temperature;
  let cand = all;
  if (p.topK > 0 && p.topK < v) {
    const thr = l(byLogit[p.topK - 1]);
    cand = all.filter((r) => l(r) >= thr);
  }
  const w = new Float64Array(v);
  let total = 0;
  for (const r of cand) {
    w[r] = Math.exp((l(r) - max) * invT);
    total += w[r];
  }
  let kept = cand;
  if (p.topP < 1) {
    const need = total * p.topP;
    const keep = new Set<number>();
    let cum = 0;
    for (const r of sortedDesc(cand, (x) => w[x])) {
      if (keep.size > 0 && !(cum < need)) break;
      keep.add(r);
      cum += w[r];
    }
    kept = cand.filter((r) => keep.has(r));
  }
  let mass = 0;
  for (const r of kept) mass += w[r];
  const u = rng.uniform() * mass;
  let acc = 0;
  let pick = kept[kept.length - 1];
  for (const r of kept) {
    acc += w[r];
    if (u < acc) {
      pick = r;
      break;
    }
  }
  const logMass = Math.log(mass);
  const top: RowLogprob[] | null =
    topN > 0 ? sortedDesc(kept, (x) => w[x]).slice(0, topN).map((row) => ({ row, logprob: Math.log(w[row]) - logMass })) : null;
  return { row: pick, logprob: Math.log(w[pick]) - logMass, top };
}
