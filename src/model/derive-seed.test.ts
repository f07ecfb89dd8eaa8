import { describe, expect, test } from "vitest";
import { deriveSeed, deriveSeedFromIds } from "./derive-seed.ts";

describe("deriveSeed", () => {
  test("a pure function of the parts, in order, 32-bit", () => {
    expect(deriveSeed(3, 1, 2, 0, 5, 1)).toBe(deriveSeed(3, 1, 2, 0, 5, 1));
    expect(deriveSeed(1, 2)).not.toBe(deriveSeed(2, 1));
    expect(deriveSeed(7)).not.toBe(deriveSeed(7 + 2 ** 32)); // high bits count
    const s = deriveSeed(0);
    expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
  });

  test("neighbouring positions give unrelated seeds: no collisions and every bit about half set over a grid", () => {
    const seeds = new Set<number>();
    const ones = new Array<number>(32).fill(0);
    let n = 0;
    for (let step = 0; step < 20; step++)
      for (let task = 0; task < 16; task++)
        for (let gen = 0; gen < 16; gen++) {
          const s = deriveSeed(0, 1, step, 0, task, gen);
          seeds.add(s);
          for (let b = 0; b < 32; b++) ones[b] += (s >>> b) & 1;
          n++;
        }
    expect(seeds.size).toBe(n);
    for (const c of ones) expect(Math.abs(c / n - 0.5)).toBeLessThan(0.05);
  });

  test("deriveSeedFromIds: same seed and ids → same; another prompt (a later turn) → another seed", () => {
    const p = [151644, 872, 198, 9707];
    expect(deriveSeedFromIds(5, p)).toBe(deriveSeedFromIds(5, Int32Array.from(p)));
    expect(deriveSeedFromIds(5, p)).not.toBe(deriveSeedFromIds(5, [...p, 151645]));
    expect(deriveSeedFromIds(5, p)).not.toBe(deriveSeedFromIds(6, p));
  });
});
