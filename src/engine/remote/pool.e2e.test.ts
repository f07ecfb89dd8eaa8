/**
 * The remote engine pool against two real `gymrl serve` replicas (child processes of bin/gymrl.js
 * over a small checkpoint, reference kernels so results are bit-exact): least-loaded spreading,
 * sticky sessions with prefix-cache hits, weight sync to both replicas with versions on every
 * sample, pause/resume around an update with no request failing, a replica killed mid-batch with
 * nothing lost or duplicated (and probed back with the pool's weights), and the vLLM dialect over
 * the same servers. Every generation is checked against a fresh in-thread engine on the weights
 * its version names.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerateRequest, GenerateResult } from "../types.ts";
import type { LocalReplicas } from "./local-replicas.ts";
import { createRemoteEnginePool, type RemoteEnginePool } from "./pool.ts";
import { startRemoteEngine, type RunningRemoteEngine } from "./start.ts";
import { greedyOn, TINY_IDS, writeTinyCheckpoint } from "./testing.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-pool-"));
const A = writeTinyCheckpoint(join(tmp, "A"), 11);
const B = writeTinyCheckpoint(join(tmp, "B"), 12);

let running: RunningRemoteEngine;
let local: LocalReplicas;
let sg: RemoteEnginePool;

beforeAll(async () => {
  // as a recipe's `generation: {backend: sglang, replicas: 2}` with no URLs starts it
  running = await startRemoteEngine({ dialect: "sglang", urls: [], replicas: 2, modelDir: A, slots: 32, kernels: "reference", requestTimeoutS: 20, pool: { probeIntervalMs: 200 } });
  [sg, local] = [running.engine, running.local!];
  expect(running.label).toMatch(/^sglang pool of 2 local gymrl serve replicas \(http:\/\/127\.0\.0\.1:\d+, http/);
}, 90_000);

afterAll(async () => {
  await running?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const greedy = (promptTokenIds: number[], maxTokens: number): GenerateRequest => ({ promptTokenIds, sampling: { temperature: 0, topP: 1, topK: -1 }, maxTokens, stopTokenIds: [] });
/** distinct short prompts over the tiny model's vocabulary */
const prompts = (n: number, salt = 0) => Array.from({ length: n }, (_, i) => [TINY_IDS[(i + salt) % 12], TINY_IDS[(3 * i + 1) % 12], TINY_IDS[(5 * i + salt + 2) % 12], TINY_IDS[i % 7]]);
const completed = (p: RemoteEnginePool) => p.stats.map((s) => s.completed);

function expectSameTokens(got: GenerateResult[], want: GenerateResult[]) {
  expect(got.map((r) => r.generationTokenIds)).toEqual(want.map((r) => r.generationTokenIds));
  got.forEach((r, i) => r.generationLogProbs.forEach((lp, j) => expect(lp).toBeCloseTo(want[i].generationLogProbs[j], 5)));
}

describe("SGLang dialect", () => {
  it("spreads concurrent requests over both replicas, each answer the engine's own", async () => {
    const ps = prompts(16);
    const before = completed(sg);
    const got = await Promise.all(ps.map((p) => sg.generate(greedy(p, 8))));
    const per = completed(sg).map((c, i) => c - before[i]);
    expect(per.reduce((a, b) => a + b)).toBe(16);
    expect(Math.min(...per)).toBeGreaterThanOrEqual(4);
    expectSameTokens(got, await greedyOn(A, ps, 8));
    expect(got.every((r) => r.policyVersion === 0 && r.policyVersions.join() === "0")).toBe(true);
  });

  it("keeps each rollout's turns on one replica, where later turns hit the prefix cache", async () => {
    const sessions = prompts(4, 5);
    const homes = new Map<string, string | undefined>();
    const cached: number[][] = sessions.map(() => []);
    let history = sessions.map((p) => [...p]);
    for (let turn = 0; turn < 3; turn++) {
      const rs = await Promise.all(history.map((h, s) => sg.generate(greedy(h, 6), { sessionKey: `rollout-${s}` })));
      history = history.map((h, s) => [...h, ...rs[s].generationTokenIds, TINY_IDS[(turn + s) % 12]]);
      rs.forEach((r, s) => {
        cached[s].push(r.cachedPromptTokens ?? 0);
        if (turn === 0) homes.set(`rollout-${s}`, sg.replicaOf(`rollout-${s}`));
        expect(sg.replicaOf(`rollout-${s}`)).toBe(homes.get(`rollout-${s}`));
      });
    }
    expect(new Set(homes.values()).size).toBe(2); // the rollouts themselves were spread
    // turn t's prompt begins with turn t-1's prompt + generation (10 ids after turn 0, 17 after turn 1)
    for (const c of cached) {
      expect(c[1]).toBeGreaterThanOrEqual(9);
      expect(c[2]).toBeGreaterThanOrEqual(16);
    }
  });

  it("syncs new weights to both replicas; every later sample says version 1 and matches a fresh engine on them", async () => {
    expect(await sg.updateWeights({ kind: "checkpoint", dir: B })).toBe(1);
    expect(sg.lastRefitMs).toBeGreaterThan(0);
    const ps = prompts(8, 1);
    const before = completed(sg);
    const got = await Promise.all(ps.map((p) => sg.generate(greedy(p, 8))));
    expect(completed(sg).every((c, i) => c > before[i])).toBe(true); // both replicas answered on the new weights
    expect(got.every((r) => r.policyVersion === 1 && r.policyVersions.join() === "1")).toBe(true);
    expectSameTokens(got, await greedyOn(B, ps, 8));
  });

  it("pauses and resumes around an update mid-batch with no request failing, each sample on the weights its version names", async () => {
    const ps = prompts(16, 2);
    const pending = ps.map((p) => sg.generate(greedy(p, 120)));
    await expect.poll(() => sg.stats.every((s) => s.inFlight > 0), { interval: 1 }).toBe(true);
    expect(await sg.updateWeights({ kind: "checkpoint", dir: A })).toBe(2);
    const got = await Promise.all(pending);
    expect(got.every((r) => r.finishReason === "length" && r.generationTokenIds.length === 120)).toBe(true);
    // SGLang's pause aborts in-flight requests and the pool sends them again: one version each
    const [onB, onA] = [await greedyOn(B, ps, 120), await greedyOn(A, ps, 120)];
    got.forEach((r, i) => {
      expect(r.policyVersions.length).toBe(1);
      expect(r.generationTokenIds).toEqual((r.policyVersion === 1 ? onB : onA)[i].generationTokenIds);
    });
    expect(got.some((r) => r.policyVersion === 2)).toBe(true); // some were in flight at the pause and ran again
  }, 60_000);

  it("loses and duplicates nothing when a replica is killed mid-batch, and probes it back with the pool's weights", async () => {
    const ps = prompts(24, 3);
    const pending = ps.map((p) => sg.generate(greedy(p, 120)));
    await expect.poll(() => sg.stats[0].inFlight, { interval: 1 }).toBeGreaterThan(0);
    const failures = sg.stats[0].failures;
    await local.kill(0);
    const got = await Promise.all(pending);
    expect(got).toHaveLength(24);
    expect(sg.stats[0].up).toBe(false);
    expect(sg.stats[0].failures).toBeGreaterThan(failures); // its in-flight requests failed there and were sent again
    expectSameTokens(got, await greedyOn(A, ps, 120)); // each answer is its own prompt's, whole
    expect(got.every((r) => r.policyVersions.join() === "2")).toBe(true);

    await local.restart(0); // on its port, with its initial weights (A, version 0)
    await expect.poll(() => sg.stats[0].up, { timeout: 20_000, interval: 100 }).toBe(true);
    const info = (await (await fetch(`${local.urls[0]}/get_model_info`)).json()) as { weight_version: string };
    expect(info.weight_version).toBe("2"); // the pool re-pushed its weights before routing to it
  }, 90_000);
});

describe("vLLM dialect", () => {
  it("generates token in / token out over the same servers and syncs weights through the dev-mode calls", async () => {
    const vl = await createRemoteEnginePool({ dialect: "vllm", urls: local.urls.map((u) => `${u}/v1`), initialVersion: 5 });
    try {
      expect(vl.maxModelLen).toBe(256);
      const ps = prompts(8, 4);
      expectSameTokens(await Promise.all(ps.map((p) => vl.generate(greedy(p, 8)))), await greedyOn(A, ps, 8));
      expect(await vl.updateWeights({ kind: "checkpoint", dir: B })).toBe(6);
      const got = await Promise.all(ps.map((p) => vl.generate(greedy(p, 8))));
      expect(got.every((r) => r.policyVersions.join() === "6")).toBe(true);
      expectSameTokens(got, await greedyOn(B, ps, 8));
    } finally {
      await vl.close();
    }
  });
});
