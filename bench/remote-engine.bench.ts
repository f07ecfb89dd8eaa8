/**
 * Remote engine bench: generated tokens/s of the demo-size model (random weights, written as a
 * checkpoint) on the embedded engine in this process, and through remote engine pools of 1 and 2
 * `gymrl serve` replicas (SGLang dialect, /generate; the vLLM dialect over 1 replica beside it), all
 * at concurrency 16 on the same requests, in interleaved rounds (best of each reported).
 *
 * remote_overhead_ms_per_request is the remote path's CPU cost per request at c16: CPU time of the
 * HTTP-side threads (this process's main thread, where the pool and its HTTP client run, plus each
 * serving replica's main thread, where its HTTP server, JSON and routes run; engines compute on
 * worker threads) per request, minus what this process's main thread spends per request driving
 * the embedded engine. It is measured per thread (/proc/<pid>/task/<tid>/schedstat), so it holds on
 * a loaded machine. The wall-clock overhead (the pool's attempt time minus the server's
 * e2e_latency) is reported beside it, at c16 and at c1: at c16 the requests of a batch finish in the
 * same engine step and each replica's one HTTP thread answers them one after another, so the wall
 * figure is mostly that queue (and, on an oversubscribed machine, run-queue waiting).
 * refit_ms: pause, load a checkpoint directory and resume on both replicas. Last line: one JSON object.
 *
 * On a 2-core machine the replicas share the cores with each other and with this process, so a
 * second replica adds little throughput here; the figures say what the pool costs, not what a GPU
 * server gives.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createEmbeddedEngine } from "../src/engine/index.ts";
import { createRemoteEnginePool, startLocalReplicas, type RemoteEnginePool } from "../src/engine/remote/index.ts";
import type { GenerateRequest, GenerationEngine } from "../src/engine/types.ts";
import { saveCheckpoint } from "../src/model/checkpoint.ts";
import { demoModelConfig } from "../src/model/default-config.ts";
import { Model } from "../src/model/model.ts";
import { getKernels } from "../src/tensor/index.ts";

const CONCURRENCY = 16;
const REQUESTS = 128;
const PROMPT_LEN = 24;
const MAX_TOKENS = 32;
const SLOTS = 64;
const ROUNDS = 3;

const tmp = mkdtempSync(join(tmpdir(), "gymrl-remote-bench-"));
const dirA = join(tmp, "A");
const dirB = join(tmp, "B");
const kernels = getKernels();
saveCheckpoint(dirA, new Model(demoModelConfig, { kernels, seed: 0 }));
saveCheckpoint(dirB, new Model(demoModelConfig, { kernels, seed: 1 }));

// the same requests for every engine: random prompts over the compact vocabulary, sampled at T=1
const requests: GenerateRequest[] = Array.from({ length: REQUESTS }, (_, i) => ({
  promptTokenIds: Array.from({ length: PROMPT_LEN }, (_, j) => (i * 131 + j * 17 + 7) % 1024),
  sampling: { temperature: 1, topP: 1, topK: -1, seed: i },
  maxTokens: MAX_TOKENS,
  stopTokenIds: [],
}));

async function tokensPerSecond(engine: GenerationEngine): Promise<number> {
  let next = 0;
  let tokens = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests.length) {
        const r = await engine.generate(requests[next++]);
        tokens += r.generationTokenIds.length;
      }
    }),
  );
  return tokens / ((performance.now() - t0) / 1000);
}

/** JIT-warms both ends of a path (HTTP client and server, JSON, routes) with short requests. */
async function warm(engine: GenerationEngine) {
  for (let k = 0; k < 16; k++) await Promise.all(requests.slice(0, CONCURRENCY).map((r) => engine.generate({ ...r, maxTokens: 1 })));
}

const log = (s: string) => console.error(s);

/** CPU time a process's main thread has run, ns (/proc/<pid>/task/<pid>/schedstat, first field). */
function mainThreadCpuNs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[0]);
}

// ---- the engines: embedded in this process (worker thread), and 2 gymrl serve replicas on the
// same checkpoint behind pools of 1 and 2 replicas
const embedded = await createEmbeddedEngine({ modelDir: dirA, slots: SLOTS });
const local = await startLocalReplicas({ modelDir: dirA, count: 2, slots: SLOTS });
const pools: RemoteEnginePool[] = [];
try {
  const one = await createRemoteEnginePool({ dialect: "sglang", urls: [local.urls[0]] });
  const oneVllm = await createRemoteEnginePool({ dialect: "vllm", urls: [local.urls[0]] });
  const two = await createRemoteEnginePool({ dialect: "sglang", urls: local.urls });
  pools.push(one, oneVllm, two);
  for (const e of [embedded, ...pools]) await warm(e);

  /**
   * tokens/s; CPU ms per request on the HTTP-side threads (this process's main thread, plus the
   * main thread of each replica serving, where HTTP, JSON and routing run; engines compute on
   * worker threads); and for a pool the wall overhead per request (its attempt time minus the
   * server's own e2e_latency).
   */
  const measure = async (engine: GenerationEngine, pool?: RemoteEnginePool, servers: number[] = []) => {
    if (pool) Object.assign(pool.timing, { requests: 0, clientMs: 0, timedRequests: 0, timedClientMs: 0, serverMs: 0 });
    const threads = [process.pid, ...servers];
    const cpu0 = threads.map((pid) => mainThreadCpuNs(pid));
    const tps = await tokensPerSecond(engine);
    const cpuMs = threads.reduce((sum, pid, i) => sum + (mainThreadCpuNs(pid) - cpu0[i]), 0) / 1e6 / REQUESTS;
    const t = pool?.timing;
    const wallOverhead = t && t.timedRequests > 0 ? (t.timedClientMs - t.serverMs) / t.timedRequests : Number.NaN;
    return { tps, cpuMs, wallOverhead };
  };
  const pids = local.replicas.map((r) => r.child.pid!);
  // Rounds interleave the engines so a change in the machine's load hits all of them; each figure
  // is the best of its rounds (the least disturbed run).
  const best = { embedded: 0, one: 0, oneVllm: 0, two: 0, cpu1: Infinity, cpu1v: Infinity, cpu2: Infinity, wall1: Infinity, wall2: Infinity };
  for (let round = 1; round <= ROUNDS; round++) {
    const e = await measure(embedded);
    const r1 = await measure(one, one, [pids[0]]);
    const r1v = await measure(oneVllm, undefined, [pids[0]]);
    const r2 = await measure(two, two, pids);
    // the remote path's CPU beyond what the embedded engine's client costs on this thread
    const [c1, c1v, c2] = [r1, r1v, r2].map((r) => r.cpuMs - e.cpuMs);
    log(
      `round ${round}: embedded ${e.tps.toFixed(0)}, 1 replica ${r1.tps.toFixed(0)} (vllm ${r1v.tps.toFixed(0)}), 2 replicas ${r2.tps.toFixed(0)} tokens/s; ` +
        `overhead CPU ${c1.toFixed(3)} (vllm ${c1v.toFixed(3)}) / ${c2.toFixed(3)} ms, wall ${r1.wallOverhead.toFixed(2)} / ${r2.wallOverhead.toFixed(2)} ms per request (1 / 2 replicas)`,
    );
    best.embedded = Math.max(best.embedded, e.tps);
    best.one = Math.max(best.one, r1.tps);
    best.oneVllm = Math.max(best.oneVllm, r1v.tps);
    best.two = Math.max(best.two, r2.tps);
    best.cpu1 = Math.min(best.cpu1, c1);
    best.cpu1v = Math.min(best.cpu1v, c1v);
    best.cpu2 = Math.min(best.cpu2, c2);
    best.wall1 = Math.min(best.wall1, r1.wallOverhead);
    best.wall2 = Math.min(best.wall2, r2.wallOverhead);
  }

  // wall overhead at concurrency 1, where no other request's answer is being handled when one arrives
  Object.assign(one.timing, { requests: 0, clientMs: 0, timedRequests: 0, timedClientMs: 0, serverMs: 0 });
  for (const r of requests.slice(0, 64)) await one.generate({ ...r, maxTokens: 8 });
  const wallC1 = (one.timing.timedClientMs - one.timing.serverMs) / one.timing.timedRequests;
  log(`wall overhead at c1 (1 replica): ${wallC1.toFixed(3)} ms per request`);

  // refit: a checkpoint directory to both replicas (twice, so the second is warm), the last one reported
  await two.updateWeights({ kind: "checkpoint", dir: dirB });
  await two.updateWeights({ kind: "checkpoint", dir: dirA });
  const refitMs = two.lastRefitMs;
  log(`refit, 2 replicas: ${refitMs.toFixed(1)} ms (pause, load a checkpoint directory, resume)`);
  const load = loadavg()[0];
  log(`load average during the run: ${load.toFixed(1)} on ${cpus().length} cores`);

  console.log(
    JSON.stringify({
      bench: "remote-engine",
      model: "demo (random weights)",
      kernels: embedded.kernels,
      concurrency: CONCURRENCY,
      requests: REQUESTS,
      prompt_tokens: PROMPT_LEN,
      max_tokens: MAX_TOKENS,
      rounds: ROUNDS,
      load_average: Number(load.toFixed(1)),
      embedded_tokens_per_s: Math.round(best.embedded),
      remote_tokens_per_s_1: Math.round(best.one),
      remote_tokens_per_s_2: Math.round(best.two),
      remote_tokens_per_s_1_vllm: Math.round(best.oneVllm),
      remote_overhead_ms_per_request: Number(best.cpu1.toFixed(3)),
      remote_overhead_ms_per_request_vllm: Number(best.cpu1v.toFixed(3)),
      remote_overhead_ms_per_request_2: Number(best.cpu2.toFixed(3)),
      remote_overhead_wall_ms_per_request: Number(best.wall1.toFixed(3)),
      remote_overhead_wall_ms_per_request_2: Number(best.wall2.toFixed(3)),
      remote_overhead_wall_ms_per_request_c1: Number(wallC1.toFixed(3)),
      refit_ms: Number(refitMs.toFixed(1)),
    }),
  );
} finally {
  for (const p of pools) await p.close();
  await embedded.close();
  await local.stop();
  rmSync(tmp, { recursive: true, force: true });
}
