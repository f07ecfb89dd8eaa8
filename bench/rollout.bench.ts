/**
 * Rollout orchestration benchmark: the collector against a real Gym (simple_agent +
 * example_single_tool_call + the vllm_model proxy, started by startGym as child processes) in
 * front of a policy that answers instantly (bench/instant-policy.ts, its own child process). Each
 * rollout is /run → seed_session → model (tool call) → get_weather → model (answer) → verify.
 *
 *   1. throughput: BENCH_ROLLOUTS (10,000) rollouts at BENCH_CONCURRENCY (256) in flight, consumed
 *      as prompt groups with their token trajectories (contiguity checked on every one);
 *   2. scale: BENCH_CONCURRENT (65,000: NeMo Gym's stated scale for one instance) rollouts held
 *      in the orchestrator at once, single-turn (tool_choice "none"). Held, not on the wire: each
 *      is started with its deadline running, but at most 1,024 /run requests per agent are on the
 *      wire at a time (the collector's connectionsPerAgent, NeMo Gym's per-host connection limit);
 *      the rest wait for a connection. The figures say so (held_*), and the peak number of
 *      /run requests on the wire is measured by counting them at the client.
 *
 * overhead_ms_per_rollout is the orchestrator process's CPU time per rollout (sending, parsing,
 * trajectory conversion, grouping, metrics): the servers run in other processes. peak_rss_mb is
 * the orchestrator's. Last line: one JSON object with the headline figures.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { GymClient } from "../src/gym/client.ts";
import { startGym } from "../src/gym/index.ts";
import { collectRollouts, type Row } from "../src/rollout/index.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const N = Number(process.env.BENCH_ROLLOUTS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 256);
const N_CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 65_000);
const AGENT = "example_single_tool_call_simple_agent";
/** /run requests per agent on the wire (the collector's default, NeMo Gym's per-host connection limit) */
const CONNECTIONS_PER_AGENT = 1024;

/** Peak RSS of this process, sampled every 50 ms. */
function rssSampler() {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  return { stop: () => (clearInterval(t), (peak = Math.max(peak, process.memoryUsage().rss)), peak / 2 ** 20) };
}

/** The client with its /run requests counted while on the wire (sent, no answer yet): the peak. */
function countRunsOnWire(client: GymClient): { client: GymClient; peak(): number } {
  let now = 0;
  let peak = 0;
  const counted = Object.create(client) as GymClient;
  counted.post = async (server, path, json, opts) => {
    if (path !== "/run") return client.post(server, path, json, opts);
    peak = Math.max(peak, ++now);
    try {
      return await client.post(server, path, json, opts);
    } finally {
      now--;
    }
  };
  return { client: counted, peak: () => peak };
}

async function startPolicyChild(): Promise<{ baseUrl: string; stop(): void }> {
  const child = spawn(process.execPath, ["--import", "tsx", `${ROOT}bench/instant-policy.ts`], { stdio: ["pipe", "pipe", "inherit"], cwd: ROOT });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (c) => reject(new Error(`instant policy exited (${c})`)));
  });
  const { port } = JSON.parse(first) as { port: number };
  return { baseUrl: `http://127.0.0.1:${port}/v1`, stop: () => child.kill("SIGKILL") };
}

function rowsFor(total: number, singleTurn = false): { rows: Row[]; numRepeats: number } {
  const base = readFileSync(`${ROOT}src/environments/example_single_tool_call/data/example.jsonl`, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Row);
  // Distinct prompts of 8 rollouts each (a GRPO-sized group), `total` rollouts in all.
  const numRepeats = 8;
  const rows = Array.from({ length: Math.ceil(total / numRepeats) }, (_, i) => {
    const row = base[i % base.length];
    const params = singleTurn ? { ...(row.responses_create_params as Row), tool_choice: "none" } : row.responses_create_params;
    return { ...row, responses_create_params: params, bench_id: i };
  });
  return { rows, numRepeats };
}

async function main() {
  const policy = await startPolicyChild();
  const gym = await startGym({
    configPaths: [`${ROOT}src/gym/configs/vllm_model_for_training.yaml`, `${ROOT}src/environments/example_single_tool_call/configs/example_single_tool_call.yaml`],
    overrides: [`+policy_base_url=${policy.baseUrl}`, "+policy_api_key=dummy", "+policy_model_name=instant"],
    envYaml: false,
  });
  try {
    // warm-up: connections, JIT
    for await (const _ of collectRollouts({ gym: gym.client, ...rowsFor(256), defaultAgent: AGENT, concurrency: 64 }).outcomes()) void _;

    // 1. throughput
    const { rows, numRepeats } = rowsFor(N);
    let rss = rssSampler();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const wire1 = countRunsOnWire(gym.client);
    const run = collectRollouts({ gym: wire1.client, rows, numRepeats, defaultAgent: AGENT, concurrency: CONCURRENCY, deadlineMs: 120_000, trajectory: { onPrefixBreak: "fail" } });
    let rollouts = 0;
    let badTrajectories = 0;
    for await (const g of run) {
      for (const o of g.succeeded) {
        const s = o.conversion.samples[0];
        // the trajectory must be exactly the last call's prompt + generation, generated tokens masked in
        if (o.conversion.samples.length !== 1 || s.tokens.length !== 35 || s.lossMask.reduce((a, b) => a + b, 0) !== 10) badTrajectories++;
      }
      rollouts += g.outcomes.length;
    }
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const peak = rss.stop();
    const m = run.metrics();
    const overhead = (cpu.user + cpu.system) / 1000 / rollouts;
    console.log(
      `throughput: ${rollouts} rollouts (${m.succeeded} ok, ${m.failed} failed ${JSON.stringify(m.failures_by_class)}, ${badTrajectories} bad trajectories, ` +
        `${m.contiguity_breaks} contiguity breaks) in ${wall.toFixed(1)} s = ${(rollouts / wall).toFixed(0)} rollouts/s at concurrency ${CONCURRENCY}; ` +
        `per-rollout p50 ${m.timing.rollout_ms.p50.toFixed(1)} ms p99 ${m.timing.rollout_ms.p99.toFixed(1)} ms; orchestrator CPU ${overhead.toFixed(3)} ms/rollout; ` +
        `peak RSS ${peak.toFixed(0)} MB; peak /run requests on the wire ${wire1.peak()}`,
    );

    // 2. all held at once
    global.gc?.();
    // One model call per rollout here (tool_choice "none"), so 65k finish in minutes on 2 cores:
    // this run measures holding them all at once, not per-rollout work (run 1 does that).
    const big = rowsFor(N_CONCURRENT, true);
    rss = rssSampler();
    const t1 = performance.now();
    const wire2 = countRunsOnWire(gym.client);
    const run2 = collectRollouts({ gym: wire2.client, ...big, defaultAgent: AGENT, concurrency: N_CONCURRENT, maxResident: N_CONCURRENT, connectionsPerAgent: CONNECTIONS_PER_AGENT, deadlineMs: 3_600_000 });
    let ok2 = 0;
    let n2 = 0;
    for await (const o of run2.outcomes()) {
      n2++;
      if (o.kind === "ok") ok2++;
    }
    const wall2 = (performance.now() - t1) / 1000;
    const peak2 = rss.stop();
    const m2 = run2.metrics();
    console.log(
      `held: ${n2} rollouts started at once in the orchestrator (deadlines running), /run requests on the wire capped at ` +
        `${CONNECTIONS_PER_AGENT} per agent, measured peak ${wire2.peak()}: ${ok2} completed, ${m2.failed} failed ${JSON.stringify(m2.failures_by_class)} ` +
        `in ${wall2.toFixed(1)} s (${(n2 / wall2).toFixed(0)} rollouts/s); per-rollout p50 ${(m2.timing.rollout_ms.p50 / 1000).toFixed(1)} s; peak RSS ${peak2.toFixed(0)} MB`,
    );
    console.log(
      JSON.stringify({
        rollouts,
        rollouts_per_s: Math.round(rollouts / wall),
        overhead_ms_per_rollout: Number(overhead.toFixed(3)),
        peak_rss_mb: Math.round(peak),
        peak_runs_on_wire: wire1.peak(),
        held_rollouts: N_CONCURRENT,
        held_all_completed: ok2 === N_CONCURRENT && n2 === N_CONCURRENT,
        held_peak_rss_mb: Math.round(peak2),
        held_peak_runs_on_wire: wire2.peak(),
      }),
    );
  } finally {
    await gym.stop();
    policy.stop();
  }
}

await main();
process.exit(0);
