/**
 * Generation throughput of the embedded engine (worker thread, continuous batching) on the default
 * demo model (src/model/default-config.ts) with random init: aggregate generated tokens/s with 1,
 * 8, 32 and 64 concurrent sequences, each a random 64-token prompt and 64 sampled tokens
 * (temperature 1, no stop ids, so nothing ends early), and the speed-up over one sequence.
 * Each level runs a warm-up round, then `--rounds` timed rounds (one sequence: 4× as many) and
 * reports the median round (the 2 cores are shared, so single rounds are noisy).
 * Last line (JSON): tokens_per_s_c1, _c8, _c32, _c64, speedup_c32 (plus speedup_c8, speedup_c64,
 * kernels, config).
 * Run: npm run bench:engine [-- --prompt 64 --gen 64 --rounds 3 --kernels auto]
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { createEmbeddedEngine } from "../src/engine/embedded-engine.ts";
import type { KernelPreference } from "../src/engine/protocol.ts";
import type { GenerateRequest } from "../src/engine/types.ts";
import { demoModelConfig } from "../src/model/default-config.ts";
import { Rng } from "../src/model/rng.ts";

const { values } = parseArgs({
  options: {
    prompt: { type: "string", default: "64" },
    gen: { type: "string", default: "64" },
    rounds: { type: "string", default: "3" },
    kernels: { type: "string", default: "auto" },
  },
});
const promptLen = Number(values.prompt);
const genLen = Number(values.gen);
const rounds = Number(values.rounds);
const levels = [1, 8, 32, 64];
const cfg = demoModelConfig;
const ids = cfg.gymrl_vocab_map!;

const engine = await createEmbeddedEngine({
  config: cfg,
  seed: 0,
  slots: 64,
  maxModelLen: promptLen + genLen,
  kernels: values.kernels as KernelPreference,
});

const rng = new Rng(1);
let seed = 0;
function request(): GenerateRequest {
  return {
    promptTokenIds: Array.from({ length: promptLen }, () => ids[rng.int(ids.length)]),
    sampling: { temperature: 1, topP: 1, topK: 0, seed: seed++ },
    maxTokens: genLen,
    stopTokenIds: [],
  };
}

/** Runs `c` requests at once; returns the generated tokens and seconds. */
async function round(c: number): Promise<{ tokens: number; s: number }> {
  const reqs = Array.from({ length: c }, request);
  const t0 = performance.now();
  const results = await Promise.all(reqs.map((r) => engine.generate(r)));
  const s = (performance.now() - t0) / 1000;
  return { tokens: results.reduce((a, r) => a + r.generationTokenIds.length, 0), s };
}

// Two cores shared with other work: each level reports the median of its rounds' throughputs.
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const tps: Record<number, number> = {};
for (const c of levels) {
  await round(c); // warm-up: buffers sized, caches hot
  const n = c === 1 ? 4 * rounds : rounds;
  const rates: number[] = [];
  let tokens = 0;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const r = await round(c);
    rates.push(r.tokens / r.s);
    tokens += r.tokens;
    s += r.s;
  }
  tps[c] = median(rates);
  const msPerStep = (s * 1000) / (n * genLen);
  console.log(
    `c=${String(c).padStart(2)}  ${tps[c].toFixed(0).padStart(6)} tokens/s median of ${n} rounds (${tokens} tokens in ${s.toFixed(2)} s, ${msPerStep.toFixed(2)} ms per generated position)  speed-up ${(tps[c] / tps[1]).toFixed(1)}×`,
  );
}
await engine.close();

console.log(
  JSON.stringify({
    tokens_per_s_c1: Math.round(tps[1]),
    tokens_per_s_c8: Math.round(tps[8]),
    tokens_per_s_c32: Math.round(tps[32]),
    tokens_per_s_c64: Math.round(tps[64]),
    speedup_c32: Number((tps[32] / tps[1]).toFixed(2)),
    speedup_c8: Number((tps[8] / tps[1]).toFixed(2)),
    speedup_c64: Number((tps[64] / tps[1]).toFixed(2)),
    kernels: engine.kernels,
    config: { prompt: promptLen, gen: genLen, slots: 64, hidden_size: cfg.hidden_size, layers: cfg.num_hidden_layers, vocab: cfg.vocab_size },
  }),
);
