/** Summary statistics of a list of numbers, as the rollout metrics report them. */

export interface Stats {
  n: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  p50: number;
  p99: number;
}

/** Nearest-rank percentiles on a sorted copy; an empty list gives n 0 and zeros (never NaN in a metrics file). */
export function summarize(values: readonly number[]): Stats {
  const n = values.length;
  if (n === 0) return { n: 0, mean: 0, std: 0, min: 0, max: 0, p50: 0, p99: 0 };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / n;
  let sq = 0;
  for (const v of sorted) sq += (v - mean) ** 2;
  const rank = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))];
  return { n, mean, std: Math.sqrt(sq / n), min: sorted[0], max: sorted[n - 1], p50: rank(0.5), p99: rank(0.99) };
}
