/**
 * Helpers for the generated (learnable) environments: a seeded PRNG, a split assignment that keeps
 * train and validation disjoint for any n, and JSONL writing. Generation is deterministic: the same
 * (split, n, seed, difficulty) gives the same rows on every machine.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

export type Split = "train" | "validation";

/** FNV-1a over the string: a stable 32-bit hash for seeds and split assignment. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: small, fast, and good enough to draw operands. Returns floats in [0, 1). */
export function rng(seed: string): () => number {
  let a = hash32(seed);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi]. */
export const randInt = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

/** One element of xs, uniformly. */
export const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[randInt(rand, 0, xs.length - 1)]!;

/**
 * Which split a question belongs to, by a hash of its text (1 in 8 to validation): disjoint splits
 * whatever n is, and the same question never lands in both.
 */
export const splitOf = (question: string): Split => (hash32(`split:${question}`) % 8 === 0 ? "validation" : "train");

/**
 * Draws questions until n belong to `split`. Train may repeat a question when the space is small;
 * a space with no question in the split gives up loudly rather than loop forever.
 */
export function drawForSplit<T extends { question: string }>(split: Split, n: number, seed: number, draw: (rand: () => number) => T): T[] {
  const rand = rng(`${seed}:${split}`);
  const out: T[] = [];
  for (let tries = 0; out.length < n; tries++) {
    if (tries > 1000 * (n + 10)) throw new Error(`could not draw ${n} ${split} questions: the difficulty leaves too few distinct questions`);
    const t = draw(rand);
    if (splitOf(t.question) === split) out.push(t);
  }
  return out;
}

export function writeJsonl(path: string, rows: readonly unknown[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

export interface DataFileOptions<D> {
  dir: string;
  seed?: number;
  nTrain?: number;
  nValidation?: number;
  nDemonstrations?: number;
  difficulty?: Partial<D>;
}

interface TaskGenerators<D> {
  generateRows(opts: { split: Split; n: number; seed: number; difficulty?: Partial<D> }): unknown[];
  demonstrations(opts: { split: Split; n: number; seed: number; difficulty?: Partial<D> }): unknown[];
}

/**
 * A learnable environment's data files from a seed: train.jsonl and validation.jsonl (Gym rows)
 * and demonstrations.jsonl (chat conversations from the train split, for the SFT warm start).
 */
export function writeDataFiles<D>(tasks: TaskGenerators<D>, opts: DataFileOptions<D>): void {
  const { dir, seed = 0, nTrain = 1000, nValidation = 200, nDemonstrations = 500, difficulty } = opts;
  writeJsonl(resolve(dir, "train.jsonl"), tasks.generateRows({ split: "train", n: nTrain, seed, difficulty }));
  writeJsonl(resolve(dir, "validation.jsonl"), tasks.generateRows({ split: "validation", n: nValidation, seed, difficulty }));
  writeJsonl(resolve(dir, "demonstrations.jsonl"), tasks.demonstrations({ split: "train", n: nDemonstrations, seed, difficulty }));
}
