/** Test helpers shared by the kernel suites: a seeded uniform generator in [-0.5, 0.5). */

/** splitmix-style hash of a counter: deterministic per seed, independent of call sites. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296 - 0.5;
  };
}
