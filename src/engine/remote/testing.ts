/**
 * Test support for the remote engine and the dialect routes: small checkpoints written to disk
 * (so `gymrl serve --model DIR` replicas and weight pushes use real HF directories), and the
 * greedy generation a fresh embedded engine gives on them, as the reference a pool must match.
 * Nothing in the library imports it.
 */
import { saveCheckpoint } from "../../model/checkpoint.ts";
import { referenceKernels } from "../../tensor/index.ts";
import { createEmbeddedEngine } from "../embedded-engine.ts";
import { tinyEngineConfig, tinyModel } from "../testing.ts";
import type { GenerateResult } from "../types.ts";

export { TINY_IDS } from "../testing.ts";

/** The tiny engine model with seed-dependent weights, saved as an HF checkpoint directory. */
export function writeTinyCheckpoint(dir: string, seed: number): string {
  saveCheckpoint(dir, tinyModel(referenceKernels, seed, tinyEngineConfig({ max_position_embeddings: 256 })));
  return dir;
}

/** Greedy generations of a fresh in-thread engine on a checkpoint (the reference for remote results). */
export async function greedyOn(dir: string, prompts: readonly number[][], maxTokens: number, stopTokenIds: number[] = []): Promise<GenerateResult[]> {
  const engine = await createEmbeddedEngine({ modelDir: dir, thread: "main", kernels: "reference" });
  try {
    return await Promise.all(prompts.map((p) => engine.generate({ promptTokenIds: p, sampling: { temperature: 0, topP: 1, topK: -1 }, maxTokens, stopTokenIds })));
  } finally {
    await engine.close();
  }
}
