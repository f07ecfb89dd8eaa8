/**
 * Seeds derived from several integers: a run's seed and a position (step, prompt, generation), or a
 * request's seed and its prompt. Each part (its low and high 32 bits, so seeds past 2^32 differ) is
 * folded through murmur3's finaliser: a pure function, the same on every machine, well mixed (nearby
 * inputs give unrelated seeds). Not cryptographic.
 */

/** A 32-bit seed from the parts, in order (order matters). */
export function deriveSeed(...parts: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = fold(h, p >>> 0);
    h = fold(h, Math.floor(p / 4294967296) >>> 0);
  }
  return h;
}

/** A 32-bit seed from a seed and a list of ids (a prompt): same seed, different prompt → another stream. */
export function deriveSeedFromIds(seed: number, ids: ArrayLike<number>): number {
  let h = deriveSeed(seed, ids.length);
  for (let i = 0; i < ids.length; i++) h = fold(h, ids[i] >>> 0);
  return h;
}

function fold(h: number, x: number): number {
  return fmix32((h ^ fmix32(x + 0x7f4a7c15)) + 0x9e3779b9);
}

function fmix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
