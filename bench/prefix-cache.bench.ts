/**
 * Automatic prefix caching on a GRPO-like workload, caching on vs off: the embedded engine (worker
 * thread, demo model, random init, the GRPO recipe's 128 slots and 512-row passes) serves
 * `--prompts` prompts × `--group` identical copies at once, each prompt a shared `--system`-token
 * prefix (the tool schema) plus its own 20–40 tokens, `--gen` sampled tokens each (no stop ids);
 * then every first turn's second turn at once: its prompt + generation + `--tool` more tokens
 * (the tool response). Reports per phase the wall time, rows computed (decode + prompt rows) and
 * prompt tokens reused from the cache; checks that both settings produce the same tokens.
 * Last line (JSON): wall_s_on/off, rows_on/off, speedup, cached_prompt_tokens, prompt_tokens,
 * lookup_ms (time spent matching prefixes, cache on), per-phase figures and the config.
 * Run: npm run bench:prefix-cache [-- --prompts 16 --group 8 --system 170 --gen 20 --tool 15 --kernels auto]
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { createEmbeddedEngine } from "../src/engine/embedded-engine.ts";
import type { KernelPreference } from "../src/engine/protocol.ts";
import type { SchedulerStats } from "../src/engine/scheduler.ts";
import type { GenerateRequest, GenerateResult } from "../src/engine/types.ts";
import { demoModelConfig } from "../src/model/default-config.ts";
import { Rng } from "../src/model/rng.ts";

const { values } = parseArgs({
  options: {
    prompts: { type: "string", default: "16" },
    group: { type: "string", default: "8" },
    system: { type: "string", default: "170" },
    gen: { type: "string", default: "20" },
    tool: { type: "string", default: "15" },
    kernels: { type: "string", default: "auto" },
  },
});
const nPrompts = Number(values.prompts);
const group = Number(values.group);
const systemLen = Number(values.system);
const genLen = Number(values.gen);
const toolLen = Number(values.tool);
const cfg = demoModelConfig;
const ids = cfg.gymrl_vocab_map!;
const slots = 128;
const maxBatchTokens = 512;

const rng = new Rng(1);
const randomIds = (n: number) => Array.from({ length: n }, () => ids[rng.int(ids.length)]);
const system = randomIds(systemLen);
const prompts = Array.from({ length: nPrompts }, () => [...system, ...randomIds(20 + rng.int(21))]);
const tools = Array.from({ length: nPrompts * group }, () => randomIds(toolLen));
const request = (prompt: number[], seed: number): GenerateRequest => ({
  promptTokenIds: prompt,
  sampling: { temperature: 1, topP: 1, topK: 0, seed },
  maxTokens: genLen,
  stopTokenIds: [],
});

interface Phase {
  s: number;
  rows: number;
  promptTokens: number;
  cachedPromptTokens: number;
  lookupMs: number;
}

async function run(prefixCaching: boolean): Promise<{ phases: Phase[]; kernels: string; tokens: number[][] }> {
  const engine = await createEmbeddedEngine({
    config: cfg,
    seed: 0,
    slots,
    maxBatchTokens,
    maxModelLen: cfg.max_position_embeddings,
    kernels: values.kernels as KernelPreference,
    prefixCaching,
  });
  const phases: Phase[] = [];
  let before: SchedulerStats = engine.stats;
  const phase = async (reqs: GenerateRequest[]): Promise<GenerateResult[]> => {
    const t0 = performance.now();
    const results = await Promise.all(reqs.map((r) => engine.generate(r)));
    const s = (performance.now() - t0) / 1000;
    const now = engine.stats;
    phases.push({
      s,
      rows: now.rows - before.rows,
      promptTokens: now.promptTokens - before.promptTokens,
      cachedPromptTokens: now.cachedPromptTokens - before.cachedPromptTokens,
      lookupMs: now.prefixLookupMs - before.prefixLookupMs,
    });
    before = now;
    return results;
  };
  // turn 1: every prompt `group` times (seeds differ), all at once
  const first = await phase(prompts.flatMap((p, i) => Array.from({ length: group }, (_, j) => request(p, i * group + j))));
  // turn 2: each first turn + its generation + a tool response
  const second = await phase(first.map((r, k) => request([...r.promptTokenIds, ...r.generationTokenIds, ...tools[k]], 100_000 + k)));
  const kernels = engine.kernels;
  await engine.close();
  return { phases, kernels, tokens: [...first, ...second].map((r) => r.generationTokenIds) };
}

const total = (ps: Phase[], k: keyof Phase) => ps.reduce((a, p) => a + p[k], 0);
const show = (name: string, ps: Phase[]) => {
  ps.forEach((p, i) =>
    console.log(
      `${name} turn ${i + 1}: ${p.s.toFixed(2).padStart(6)} s  ${String(p.rows).padStart(6)} rows  ${p.cachedPromptTokens}/${p.promptTokens} prompt tokens cached  lookup ${p.lookupMs.toFixed(1)} ms`,
    ),
  );
};

const off = await run(false);
show("off", off.phases);
const on = await run(true);
show("on ", on.phases);
const same = on.tokens.length === off.tokens.length && on.tokens.every((t, i) => t.length === off.tokens[i].length && t.every((x, j) => x === off.tokens[i][j]));
const differing = on.tokens.filter((t, i) => t.some((x, j) => x !== off.tokens[i][j])).length;
console.log(same ? "same tokens with caching on and off" : `tokens differ in ${differing} of ${on.tokens.length} generations (float rounding of batch-dependent matmuls)`);
const [sOn, sOff] = [total(on.phases, "s"), total(off.phases, "s")];
console.log(`on: ${sOn.toFixed(2)} s, ${total(on.phases, "rows")} rows; off: ${sOff.toFixed(2)} s, ${total(off.phases, "rows")} rows; speed-up ${(sOff / sOn).toFixed(1)}×`);
console.log(
  JSON.stringify({
    wall_s_on: Number(sOn.toFixed(3)),
    wall_s_off: Number(sOff.toFixed(3)),
    rows_on: total(on.phases, "rows"),
    rows_off: total(off.phases, "rows"),
    speedup: Number((sOff / sOn).toFixed(2)),
    prompt_tokens: total(on.phases, "promptTokens"),
    cached_prompt_tokens: total(on.phases, "cachedPromptTokens"),
    lookup_ms: Number(total(on.phases, "lookupMs").toFixed(2)),
    same_tokens: same,
    turns: on.phases.map((p, i) => ({ s_on: Number(p.s.toFixed(3)), s_off: Number(off.phases[i].s.toFixed(3)), rows_on: p.rows, rows_off: off.phases[i].rows, cached: p.cachedPromptTokens, prompt: p.promptTokens })),
    kernels: on.kernels,
    config: { prompts: nPrompts, group, system: systemLen, gen: genLen, tool: toolLen, slots, max_batch_tokens: maxBatchTokens, hidden_size: cfg.hidden_size, layers: cfg.num_hidden_layers },
  }),
);
