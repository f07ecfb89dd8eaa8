/**
 * OpenAI-server bench: requests/s and p50/p99 latency at concurrency 1, 16 and 64 for short chat
 * completions through `gymrl serve`'s stack (random-init demo model, worker-thread engine), and
 * the per-request overhead of HTTP + templating + prefix splice over the engine call it makes,
 * measured in this run on the same prompt. The chat requests are second turns that carry
 * the first turn's token ids, so every request pays for the splice. Last line: one JSON object.
 */
import { performance } from "node:perf_hooks";
import { Agent, request } from "undici";
import { serve } from "../src/server/serve.ts";

const MAX_TOKENS = 4;
const REQUESTS: Record<number, number> = { 1: 200, 16: 640, 64: 1280 };

const running = await serve({ randomInit: true, slots: 64, thread: "worker" });
const url = `${running.baseUrl}/v1/chat/completions`;
const dispatcher = new Agent({ connections: 128, pipelining: 1, keepAliveTimeout: 60_000 });

// A first turn, generated for real, whose token ids the bench's second turns carry back.
const user1 = { role: "user", content: "What is 17 + 25? Think step by step and answer in \\boxed{}." };
const first = await post({ messages: [user1], max_tokens: 8, logprobs: true, top_logprobs: 0, temperature: 1, top_p: 1, seed: 1 });
const assistant = (first.choices as Array<{ message: Record<string, unknown> }>)[0].message;
const body = JSON.stringify({
  messages: [user1, assistant, { role: "user", content: "Check it again and give the final answer." }],
  max_tokens: MAX_TOKENS,
  temperature: 0,
  logprobs: true,
  top_logprobs: 0,
});

async function post(b: unknown): Promise<Record<string, unknown>> {
  const r = await request(url, { method: "POST", body: typeof b === "string" ? b : JSON.stringify(b), dispatcher, headers: { "content-type": "application/json" } });
  const json = (await r.body.json()) as Record<string, unknown>;
  if (r.statusCode !== 200) throw new Error(`HTTP ${r.statusCode}: ${JSON.stringify(json)}`);
  return json;
}

const promptOfBody = ((await post(body)).choices as Array<{ message: { prompt_token_ids: number[] } }>)[0].message.prompt_token_ids;
const direct = () =>
  running.engine.generate({
    promptTokenIds: promptOfBody,
    sampling: { temperature: 0, topP: 1, topK: -1 },
    maxTokens: MAX_TOKENS,
    stopTokenIds: [],
  });

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

async function loadAt(concurrency: number, total: number) {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const s = performance.now();
        await post(body);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  return { rps: total / wall, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99) };
}

// warm-up: JIT, template cache, engine buffers
for (let i = 0; i < 20; i++) {
  await post(body);
  await direct();
}

// Overhead at concurrency 1: each HTTP request's latency minus the time its own engine.generate
// took inside the server (timed by wrapping the engine), so engine variance cancels out. The
// direct engine latency is measured interleaved, for reference.
const engineMs: number[] = [];
const generate = running.engine.generate.bind(running.engine);
running.engine.generate = async (req, opts) => {
  const s = performance.now();
  try {
    return await generate(req, opts);
  } finally {
    engineMs.push(performance.now() - s);
  }
};
const viaHttp: number[] = [];
const overheads: number[] = [];
const viaEngine: number[] = [];
for (let i = 0; i < 300; i++) {
  let s = performance.now();
  await post(body);
  const http = performance.now() - s;
  viaHttp.push(http);
  overheads.push(http - engineMs[engineMs.length - 1]);
  s = performance.now();
  await direct();
  viaEngine.push(performance.now() - s);
}
running.engine.generate = generate;
const overheadP50 = pct(overheads, 0.5);
console.log(
  `overhead at c=1: http p50 ${pct(viaHttp, 0.5).toFixed(2)} ms, direct engine p50 ${pct(viaEngine, 0.5).toFixed(2)} ms, ` +
    `per-request overhead p50 ${overheadP50.toFixed(2)} ms, p99 ${pct(overheads, 0.99).toFixed(2)} ms ` +
    `(prompt ${promptOfBody.length} tokens, ${MAX_TOKENS} generated, kernels ${running.engine.kernels})`,
);

const results: Record<number, { rps: number; p50: number; p99: number }> = {};
for (const c of [1, 16, 64]) {
  results[c] = await loadAt(c, REQUESTS[c]);
  console.log(`c=${String(c).padStart(2)}: ${results[c].rps.toFixed(1)} req/s, p50 ${results[c].p50.toFixed(1)} ms, p99 ${results[c].p99.toFixed(1)} ms`);
}

await running.close();
await dispatcher.close();
const round = (x: number) => Math.round(x * 100) / 100;
console.log(
  JSON.stringify({
    rps_c1: round(results[1].rps),
    rps_c16: round(results[16].rps),
    rps_c64: round(results[64].rps),
    p50_ms_c16: round(results[16].p50),
    p99_ms_c16: round(results[16].p99),
    overhead_p50_ms: round(overheadP50),
  }),
);
