/**
 * OpenAI-server bench: requests/s and p50/p99 latency at concurrency 1, 16 and 64 for short chat
 * completions through `gymrl serve`'s stack (random-init demo model, worker-thread engine), and
 * the per-request overhead of HTTP + templating + prefix splice over the engine call it makes.
 * The chat requests are second turns that carry the first turn's token ids, so every request pays
 * for the splice. Two workloads, reported separately:
 * - cached: one identical body at temperature 0, so every request after the first is a full hit of
 *   the engine's prefix cache (and of the tokenizer's and template's caches);
 * - uncached: distinct conversations whose first user message starts with a token no other request
 *   has, so the engine's prefix cache (on, as in serving) can reuse only the chat template's head
 *   (`<|im_start|>user\n`); the bench checks this on the prompts and prints the cached prompt tokens
 *   the engine reports. The rest of each body is the same text, so the work per request is equal.
 * Last line: one JSON object (the cached figures under their original keys, plus `*_uncached`).
 */
import { performance } from "node:perf_hooks";
import { Agent, request } from "undici";
import type { GenerateResult } from "../src/engine/types.ts";
import { serve } from "../src/server/serve.ts";

const MAX_TOKENS = 4;
const REQUESTS: Record<number, number> = { 1: 200, 16: 640, 64: 1280 };
const CONCURRENCIES = [1, 16, 64];
const WARMUP = 20;
const OVERHEAD_SAMPLES = 300;

const running = await serve({ randomInit: true, slots: 64, thread: "worker" });
const dispatcher = new Agent({ connections: 128, pipelining: 1, keepAliveTimeout: 60_000 });

async function post(b: unknown, path = "/v1/chat/completions"): Promise<Record<string, unknown>> {
  const r = await request(`${running.baseUrl}${path}`, {
    method: "POST",
    body: typeof b === "string" ? b : JSON.stringify(b),
    dispatcher,
    headers: { "content-type": "application/json" },
  });
  const json = (await r.body.json()) as Record<string, unknown>;
  if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}: ${JSON.stringify(json)}`);
  return json;
}

// A first turn, generated for real, whose token ids the bench's second turns carry back.
const question = "What is 17 + 25? Think step by step and answer in \\boxed{}.";
const user1 = { role: "user", content: question };
const followUp = { role: "user", content: "Check it again and give the final answer." };
const first = await post({ messages: [user1], max_tokens: 8, logprobs: true, top_logprobs: 0, temperature: 1, top_p: 1, seed: 1 });
const assistant = (first.choices as Array<{ message: Record<string, unknown> }>)[0].message;
const bodyOf = (u1: object, a1: object) =>
  JSON.stringify({ messages: [u1, a1, followUp], max_tokens: MAX_TOKENS, temperature: 0, logprobs: true, top_logprobs: 0 });
const cachedBody = bodyOf(user1, assistant);

// ---- the uncached workload: one conversation per request, each led by its own token
const uncachedNeeded = WARMUP + OVERHEAD_SAMPLES + CONCURRENCIES.reduce((a, c) => a + REQUESTS[c], 0);
const leads = distinctLeadWords(uncachedNeeded);
const uncachedBodies: string[] = [];
const uncachedPrompts: number[][] = [];
for (const word of leads) {
  const u1 = { role: "user", content: `${word} ${question}` };
  // The first turn's prompt ids as the server templates them; the generation is the real one above
  // (the splice needs ids the server would accept, not ids this random model would sample).
  const promptIds = ((await post({ messages: [u1] }, "/tokenize")) as { tokens: number[] }).tokens;
  const a1 = { ...assistant, prompt_token_ids: promptIds };
  const body = bodyOf(u1, a1);
  uncachedBodies.push(body);
  uncachedPrompts.push(((await post({ messages: [u1, a1, followUp] }, "/tokenize")) as { tokens: number[] }).tokens);
}
const head = checkOnlyHeadShared(uncachedPrompts);
let nextUncached = 0;
const uncachedBody = () => {
  if (nextUncached >= uncachedBodies.length) throw new Error("bench:server ran out of distinct prompts");
  return uncachedBodies[nextUncached++];
};

/**
 * Words that are one token each and stay one token at the start of the message, in vocabulary
 * order (deterministic), so each conversation's prompt differs from every other's right after
 * the template head.
 */
function distinctLeadWords(n: number): string[] {
  const tok = running.tokenizer;
  const out: string[] = [];
  for (let id = 0; id < tok.vocabSize && out.length < n; id++) {
    const w = tok.decode([id]);
    if (!/^[A-Za-z]{3,}$/.test(w)) continue;
    const ids = tok.encode(`${w} ${question}`);
    if (ids[0] === id && tok.encode(w).length === 1) out.push(w);
  }
  if (out.length < n) throw new Error(`only ${out.length} single-token lead words, need ${n}`);
  return out;
}

/** Asserts the prompts share exactly a common head and differ pairwise right after it. */
function checkOnlyHeadShared(prompts: number[][]): number {
  let h = 0;
  while (prompts.every((p) => p[h] === prompts[0][h])) h++;
  const seen = new Set(prompts.map((p) => p[h]));
  if (seen.size !== prompts.length) throw new Error("uncached prompts share more than the template head");
  return h;
}

// ---- engine timing and prefix-cache accounting, from inside the server
const engineMs: number[] = [];
let cacheTally = { prompt: 0, cached: 0, completion: 0, requests: 0 };
const generate = running.engine.generate.bind(running.engine);
running.engine.generate = async (req, opts) => {
  const s = performance.now();
  let r: GenerateResult | undefined;
  try {
    r = await generate(req, opts);
    return r;
  } finally {
    engineMs.push(performance.now() - s);
    if (r) {
      cacheTally.requests++;
      cacheTally.prompt += r.promptTokenIds.length;
      cacheTally.cached += r.cachedPromptTokens ?? Number.NaN;
      cacheTally.completion += r.generationTokenIds.length;
    }
  }
};
const takeTally = () => {
  const t = cacheTally;
  cacheTally = { prompt: 0, cached: 0, completion: 0, requests: 0 };
  return {
    promptTokens: t.prompt / t.requests,
    cachedTokens: t.cached / t.requests,
    completionTokens: t.completion / t.requests,
  };
};

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

async function loadAt(concurrency: number, total: number, nextBody: () => string) {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const body = nextBody();
        const s = performance.now();
        await post(body);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  return { rps: total / wall, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99) };
}

/**
 * Overhead at concurrency 1: each HTTP request's latency minus the time its own engine.generate
 * took inside the server, so engine variance cancels out.
 */
async function overheadAt1(nextBody: () => string, between?: () => Promise<unknown>) {
  const viaHttp: number[] = [];
  const overheads: number[] = [];
  const inEngine: number[] = [];
  const viaEngine: number[] = [];
  for (let i = 0; i < OVERHEAD_SAMPLES; i++) {
    const body = nextBody();
    let s = performance.now();
    await post(body);
    const http = performance.now() - s;
    viaHttp.push(http);
    inEngine.push(engineMs[engineMs.length - 1]);
    overheads.push(http - engineMs[engineMs.length - 1]);
    if (between) {
      s = performance.now();
      await between();
      viaEngine.push(performance.now() - s);
    }
  }
  return { http: pct(viaHttp, 0.5), engine: pct(inEngine, 0.5), direct: viaEngine.length ? pct(viaEngine, 0.5) : null, p50: pct(overheads, 0.5), p99: pct(overheads, 0.99) };
}

const cachedPrompt = ((await post(cachedBody)).choices as Array<{ message: { prompt_token_ids: number[] } }>)[0].message.prompt_token_ids;
// The direct engine call, for reference; it bypasses the wrapper above.
const direct = () =>
  generate({ promptTokenIds: cachedPrompt, sampling: { temperature: 0, topP: 1, topK: -1 }, maxTokens: MAX_TOKENS, stopTokenIds: [] });

// warm-up: JIT, template cache, engine buffers
for (let i = 0; i < WARMUP; i++) {
  await post(cachedBody);
  await direct();
  await post(uncachedBody());
}
takeTally();

const workloads = [
  { name: "cached", nextBody: () => cachedBody, between: direct },
  { name: "uncached", nextBody: uncachedBody, between: undefined },
] as const;
type Figures = { overhead: Awaited<ReturnType<typeof overheadAt1>>; load: Record<number, { rps: number; p50: number; p99: number }>; tally: ReturnType<typeof takeTally> };
const figures: Record<string, Figures> = {};
for (const w of workloads) {
  const overhead = await overheadAt1(w.nextBody, w.between);
  const load: Figures["load"] = {};
  for (const c of CONCURRENCIES) load[c] = await loadAt(c, REQUESTS[c], w.nextBody);
  const tally = takeTally();
  figures[w.name] = { overhead, load, tally };
  console.log(
    `${w.name}: prompt ${tally.promptTokens.toFixed(1)} tokens/request of which ${tally.cachedTokens.toFixed(1)} from the engine's prefix cache, ` +
      `${tally.completionTokens.toFixed(2)} generated` +
      (w.name === "uncached" ? ` (prompts share only the ${head}-token template head)` : ""),
  );
  console.log(
    `  overhead at c=1: http p50 ${overhead.http.toFixed(2)} ms, engine p50 ${overhead.engine.toFixed(2)} ms` +
      (overhead.direct !== null ? `, direct engine p50 ${overhead.direct.toFixed(2)} ms` : "") +
      `, per-request overhead p50 ${overhead.p50.toFixed(2)} ms, p99 ${overhead.p99.toFixed(2)} ms (kernels ${running.engine.kernels})`,
  );
  for (const c of CONCURRENCIES) {
    const r = load[c];
    console.log(`  c=${String(c).padStart(2)}: ${r.rps.toFixed(1)} req/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
  }
}

running.engine.generate = generate;
await running.close();
await dispatcher.close();
const round = (x: number) => Math.round(x * 100) / 100;
const c = figures.cached;
const u = figures.uncached;
console.log(
  JSON.stringify({
    rps_c1: round(c.load[1].rps),
    rps_c16: round(c.load[16].rps),
    rps_c64: round(c.load[64].rps),
    p50_ms_c16: round(c.load[16].p50),
    p99_ms_c16: round(c.load[16].p99),
    overhead_p50_ms: round(c.overhead.p50),
    rps_c1_uncached: round(u.load[1].rps),
    rps_c16_uncached: round(u.load[16].rps),
    rps_c64_uncached: round(u.load[64].rps),
    p50_ms_c16_uncached: round(u.load[16].p50),
    p99_ms_c16_uncached: round(u.load[16].p99),
    overhead_p50_ms_uncached: round(u.overhead.p50),
    cached_prompt_tokens_per_request: round(c.tally.cachedTokens),
    cached_prompt_tokens_per_request_uncached: round(u.tally.cachedTokens),
    prompt_tokens_per_request: round(c.tally.promptTokens),
  }),
);
