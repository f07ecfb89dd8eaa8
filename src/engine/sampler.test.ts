import { describe, expect, test } from "vitest";

import { Rng } from "../model/rng.ts";
import { Sampler } from "./sampler.ts";
import { sampleBySorting } from "./sampler-sorting.ts";
import type { SamplingParams } from "./types.ts";

/** The processed distribution by brute force (full sort), as vLLM computes it: T → top-k → top-p. */
function processedByFullSort(logits: number[], p: SamplingParams): number[] {
  const V = logits.length;
  const z = logits.map((l) => l / p.temperature);
  let keep = new Array<boolean>(V).fill(true);
  if (p.topK > 0 && p.topK < V) {
    const kth = [...z].sort((a, b) => b - a)[p.topK - 1];
    keep = z.map((x) => x >= kth);
  }
  const max = Math.max(...z);
  const w = z.map((x, i) => (keep[i] ? Math.exp(x - max) : 0));
  let total = w.reduce((a, b) => a + b, 0);
  if (p.topP < 1) {
    const order = [...w.keys()].sort((a, b) => w[b] - w[a]);
    let cum = 0;
    const kept = new Set<number>();
    for (const r of order) {
      if (kept.size > 0 && cum >= p.topP * total) break;
      kept.add(r);
      cum += w[r];
    }
    for (let r = 0; r < V; r++) if (!kept.has(r)) w[r] = 0;
    total = cum;
  }
  return w.map((x) => x / total);
}

function randomLogits(V: number, seed: number, scale = 2): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: V }, () => scale * rng.normal());
}

const cases: [string, SamplingParams][] = [
  ["temperature 1", { temperature: 1, topP: 1, topK: 0 }],
  ["temperature 0.6", { temperature: 0.6, topP: 1, topK: -1 }],
  ["top-k 5", { temperature: 1, topP: 1, topK: 5 }],
  ["top-p 0.7", { temperature: 0.8, topP: 0.7, topK: 0 }],
  ["top-k 8 + top-p 0.9", { temperature: 1.3, topP: 0.9, topK: 8 }],
];

describe("Sampler", () => {
  test("greedy: the argmax, with the raw log-softmax as logprob, and sorted alternatives", () => {
    const logits = randomLogits(50, 3);
    const s = new Sampler(50).sample(logits, 0, { temperature: 0, topP: 0.5, topK: 3 }, new Rng(0), 4);
    const lse = Math.log(Array.from(logits).reduce((a, l) => a + Math.exp(l), 0));
    const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);
    expect(s.row).toBe(order[0]);
    expect(s.logprob).toBeCloseTo(logits[order[0]] - lse, 6);
    expect(s.top!.map((t) => t.row)).toEqual(order.slice(0, 4));
    s.top!.forEach((t) => expect(t.logprob).toBeCloseTo(logits[t.row] - lse, 6));
  });

  test("reads the row at the given offset of a (B, V) block", () => {
    const block = new Float32Array(3 * 10);
    block[2 * 10 + 7] = 5;
    expect(new Sampler(10).sample(block, 20, { temperature: 0, topP: 1, topK: 0 }, new Rng(0)).row).toBe(7);
  });

  test.each(cases)("%s: logprobs are those of the processed distribution, and draws follow it", (_, p) => {
    const V = 40;
    const logits = randomLogits(V, 11);
    const probs = processedByFullSort(Array.from(logits), p);
    const sampler = new Sampler(V);
    const rng = new Rng(5);
    const counts = new Array<number>(V).fill(0);
    const draws = 20000;
    for (let i = 0; i < draws; i++) {
      const s = sampler.sample(logits, 0, p, rng, i === 0 ? 3 : 0);
      counts[s.row]++;
      expect(probs[s.row]).toBeGreaterThan(0); // never a filtered-out row
      if (i < 50) expect(s.logprob).toBeCloseTo(Math.log(probs[s.row]), 5);
      if (i === 0) {
        const best = [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 3).filter((r) => probs[r] > 0);
        expect(s.top!.map((t) => t.row)).toEqual(best);
        s.top!.forEach((t) => expect(t.logprob).toBeCloseTo(Math.log(probs[t.row]), 5));
      }
    }
    // total-variation distance between the empirical and the processed distribution
    const tv = 0.5 * probs.reduce((a, q, r) => a + Math.abs(q - counts[r] / draws), 0);
    expect(tv).toBeLessThan(0.03);
  });

  test("top-p keeps the smallest most-likely set reaching the mass (vLLM's rule)", () => {
    const logits = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
    const rowsSeen = (topP: number) => {
      const sampler = new Sampler(4);
      const rng = new Rng(1);
      const seen = new Set<number>();
      for (let i = 0; i < 2000; i++) seen.add(sampler.sample(logits, 0, { temperature: 1, topP, topK: 0 }, rng).row);
      return [...seen].sort();
    };
    expect(rowsSeen(0.4)).toEqual([0]);
    expect(rowsSeen(0.79)).toEqual([0, 1]);
    expect(rowsSeen(0.81)).toEqual([0, 1, 2]);
  });

  test("top-k keeps ties with the k-th logit, as vLLM's threshold does", () => {
    const logits = Float32Array.from([3, 1, 2, 2, 0]);
    const probs = processedByFullSort(Array.from(logits), { temperature: 1, topP: 1, topK: 2 });
    expect(probs.map((q) => q > 0)).toEqual([true, false, true, true, false]);
    const s = new Sampler(5).sample(logits, 0, { temperature: 1, topP: 1, topK: 2 }, new Rng(2));
    expect(s.logprob).toBeCloseTo(Math.log(probs[s.row]), 6);
  });

  test("the checker can fail: raw logprobs differ from processed ones under top-k", () => {
    const logits = randomLogits(40, 11);
    const s = new Sampler(40).sample(logits, 0, { temperature: 1, topP: 1, topK: 5 }, new Rng(0));
    const raw = logits[s.row] - Math.log(Array.from(logits).reduce((a, l) => a + Math.exp(l), 0));
    expect(Math.abs(s.logprob - raw)).toBeGreaterThan(1e-3);
  });

  describe("draw for draw the sorting implementation (sampler-sorting.ts), on random logits with fixed seeds", () => {
    const modes: [string, SamplingParams][] = [
      ...cases,
      ["greedy", { temperature: 0, topP: 0.9, topK: 20 }],
      ["top-p 0.95 at T 1", { temperature: 1, topP: 0.95, topK: 0 }],
      ["top-p 0.3 at T 0.7", { temperature: 0.7, topP: 0.3, topK: -1 }],
      ["top-p 1e-9 (only the most likely)", { temperature: 1, topP: 1e-9, topK: 0 }],
      ["top-k 50 + top-p 0.5", { temperature: 0.9, topP: 0.5, topK: 50 }],
    ];
    // rounded logits give many ties (between rows and at the nucleus edge); peaked ones a small nucleus
    const logitKinds: [string, (V: number, seed: number) => Float32Array][] = [
      ["normal", (V, seed) => randomLogits(V, seed, 2)],
      ["ties", (V, seed) => randomLogits(V, seed, 2).map((x) => Math.round(x * 2) / 2)],
      ["peaked", (V, seed) => randomLogits(V, seed, 6)],
    ];
    test.each(modes)("%s", (_, p) => {
      let compared = 0;
      for (const [kind, make] of logitKinds) {
        for (const V of [7, 300, 5000]) {
          const logits = make(V, V + kind.length);
          const fast = new Sampler(V);
          const rngA = new Rng(17);
          const rngB = new Rng(17);
          for (let draw = 0; draw < 12; draw++) {
            const a = fast.sample(logits, 0, p, rngA, 4);
            const b = sampleBySorting(logits, 0, V, p, rngB, 4);
            expect(a, `${kind} logits, V ${V}, draw ${draw}`).toEqual(b);
            compared++;
          }
        }
      }
      expect(compared).toBe(108);
    });

    test("at Qwen3's vocabulary (151,936 rows), top-p and top-k + top-p", () => {
      const V = 151_936;
      const logits = randomLogits(V, 5, 4);
      const fast = new Sampler(V);
      for (const [, p] of modes.filter(([name]) => /top-p (0.95|0.3)|top-k 50/.test(name))) {
        const rngA = new Rng(3);
        const rngB = new Rng(3);
        for (let draw = 0; draw < 3; draw++) expect(fast.sample(logits, 0, p, rngA, 2)).toEqual(sampleBySorting(logits, 0, V, p, rngB, 2));
      }
    });

    test("the comparison can fail: a sorted walk (the previous draw order) picks other rows", () => {
      // the reference walks kept rows in row order; walking them most likely first gives other draws
      const V = 300;
      const logits = randomLogits(V, 8);
      const p = { temperature: 1, topP: 0.9, topK: 0 };
      const rng = new Rng(1);
      let differ = 0;
      for (let i = 0; i < 20; i++) {
        const u = rng.uniform();
        const want = sampleBySorting(logits, 0, V, p, { uniform: () => u });
        const w = Array.from(logits, (l) => Math.exp(l - Math.max(...logits)));
        const rows = [...w.keys()].sort((a, b) => w[b] - w[a] || a - b);
        let kept = 0;
        let cum = 0;
        const total = w.reduce((s, x) => s + x, 0);
        while (kept === 0 || cum < p.topP * total) cum += w[rows[kept++]];
        let acc = 0;
        let pick = rows[kept - 1];
        for (const r of rows.slice(0, kept)) if (u * cum < (acc += w[r])) {
          pick = r;
          break;
        }
        if (pick !== want.row) differ++;
      }
      expect(differ).toBeGreaterThan(5);
    });
  });
});
