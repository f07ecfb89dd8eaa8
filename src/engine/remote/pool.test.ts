/**
 * The pool's routing, failure handling and version accounting over in-process fake replicas (the
 * real-process version of these properties is pool.e2e.test.ts): least-loaded spreading, sticky
 * sessions, a failing replica's requests answered once by another, probing back with the pool's
 * weights re-pushed, stale weights caught, versions stamped across an update.
 */
import { describe, expect, it } from "vitest";
import type { GenerateRequest } from "../types.ts";
import { RemoteEngineError } from "./errors.ts";
import { createRemoteEnginePool } from "./pool.ts";
import type { ReplicaClient, ReplicaGenerateOptions, ReplicaGeneration } from "./replica.ts";

/** A replica whose answers are the prompt's last id + 1, after `delayMs`; it can be broken on demand. */
class FakeReplica implements ReplicaClient {
  readonly dialect = "sglang" as const;
  served: number[][] = [];
  calls: string[] = [];
  down = false;
  /** answer with this weight version label (SGLang's meta_info.weight_version) */
  reports: number | undefined;
  delayMs = 5;
  private version = 0;
  private gate: Promise<void> | null = null;
  private open: () => void = () => {};

  constructor(readonly url: string) {}

  async generate(request: GenerateRequest, options: ReplicaGenerateOptions): Promise<ReplicaGeneration> {
    if (this.down) throw new RemoteEngineError("unreachable", this.url, "connection refused");
    await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.gate) await this.gate;
    if (this.down) throw new RemoteEngineError("unreachable", this.url, "connection reset");
    if (options.signal?.aborted) throw new RemoteEngineError("aborted", this.url, "aborted");
    this.served.push([...request.promptTokenIds]);
    const next = request.promptTokenIds.at(-1)! + 1;
    return {
      promptTokenIds: [...request.promptTokenIds],
      generationTokenIds: [next],
      generationLogProbs: [-0.5],
      finishReason: "length",
      cachedPromptTokens: 0,
      ...(this.reports !== undefined ? { reportedVersions: [this.reports] } : {}),
    };
  }
  async health() {
    if (this.down) throw new RemoteEngineError("unreachable", this.url, "connection refused");
  }
  async maxModelLen() {
    return 64;
  }
  async pause() {
    this.calls.push("pause");
    this.gate = new Promise<void>((r) => (this.open = r));
  }
  async loadWeights(dir: string, version: number) {
    this.calls.push(`load ${dir} v${version}`);
    this.version = version;
    if (this.reports !== undefined) this.reports = version;
  }
  async resume() {
    this.calls.push("resume");
    this.open();
    this.gate = null;
  }
  reset() {}
  get loaded() {
    return this.version;
  }
}

const req = (ids: number[]): GenerateRequest => ({ promptTokenIds: ids, sampling: { temperature: 0, topP: 1, topK: -1 }, maxTokens: 1, stopTokenIds: [] });

async function pool(n: number, extra: Partial<Parameters<typeof createRemoteEnginePool>[0]> = {}) {
  const fakes = Array.from({ length: n }, (_, i) => new FakeReplica(`http://fake-${i}`));
  const p = await createRemoteEnginePool({ dialect: "sglang", urls: [], clients: fakes, probeIntervalMs: 10, ...extra });
  return { p, fakes };
}

describe("routing", () => {
  it("spreads concurrent requests by load", async () => {
    const { p, fakes } = await pool(2);
    await Promise.all(Array.from({ length: 16 }, (_, i) => p.generate(req([i]))));
    expect(fakes.map((f) => f.served.length)).toEqual([8, 8]);
    await p.close();
  });

  it("keeps every turn of a session on the replica of its first turn, even under load", async () => {
    const { p, fakes } = await pool(3);
    // 6 sessions × 4 turns, turns of different sessions interleaved
    for (let turn = 0; turn < 4; turn++) {
      await Promise.all(Array.from({ length: 6 }, (_, s) => p.generate(req([100 * s, turn]), { sessionKey: `s${s}` })));
    }
    for (let s = 0; s < 6; s++) {
      const holders = fakes.filter((f) => f.served.some((ids) => ids[0] === 100 * s));
      expect(holders).toHaveLength(1);
      expect(holders[0].served.filter((ids) => ids[0] === 100 * s)).toHaveLength(4);
      expect(p.replicaOf(`s${s}`)).toBe(holders[0].url);
    }
    expect(fakes.every((f) => f.served.length > 0)).toBe(true); // sessions themselves were spread
    await p.close();
  });
});

describe("streaming callbacks", () => {
  it("replays the answer's tokens to onToken, and cuts the result where the caller aborted", async () => {
    const { p, fakes } = await pool(1);
    fakes[0].generate = async (r) => ({ promptTokenIds: [...r.promptTokenIds], generationTokenIds: [5, 6, 7, 8], generationLogProbs: [-1, -2, -3, -4], finishReason: "length" });
    const seen: number[] = [];
    const all = await p.generate(req([1]), { onToken: (t) => seen.push(t.tokenId) });
    expect([seen, all.generationTokenIds, all.finishReason]).toEqual([[5, 6, 7, 8], [5, 6, 7, 8], "length"]);
    // as the OpenAI server does when a stop string matches at the second token
    const stop = new AbortController();
    const cut = await p.generate(req([1]), { signal: stop.signal, onToken: (t) => t.tokenId === 6 && stop.abort() });
    expect([cut.generationTokenIds, cut.generationLogProbs, cut.finishReason]).toEqual([[5, 6], [-1, -2], "abort"]);
    await p.close();
  });
});

describe("failures", () => {
  it("answers a dead replica's requests once each from another, then probes it back", async () => {
    const { p, fakes } = await pool(2);
    const pending = Array.from({ length: 10 }, (_, i) => p.generate(req([i])));
    fakes[0].down = true; // dies with requests in flight
    const results = await Promise.all(pending);
    expect(results.map((r) => r.generationTokenIds[0])).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    // every prompt answered exactly once, all by the survivor or before the failure
    const answered = fakes.flatMap((f) => f.served.map((ids) => ids[0])).sort((a, b) => a - b);
    expect(answered).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(p.stats[0].up).toBe(false);
    fakes[0].down = false;
    await expect.poll(() => p.stats[0].up, { timeout: 2000 }).toBe(true);
    await p.close();
  });

  it("gives a 4xx or a malformed answer straight back, without retrying", async () => {
    const { p, fakes } = await pool(2);
    let calls = 0;
    fakes[0].generate = fakes[1].generate = async () => {
      calls++;
      throw new RemoteEngineError("invalid-response", "http://fake", "POST /generate response: output_ids is missing", "output_ids");
    };
    await expect(p.generate(req([1]))).rejects.toThrow(/output_ids is missing/);
    expect(calls).toBe(1);
    await p.close();
  });

  it("re-pushes the pool's weights to a replica that comes back, before it takes requests", async () => {
    const { p, fakes } = await pool(2);
    await p.updateWeights({ kind: "checkpoint", dir: "/w/v1" });
    fakes[1].down = true;
    p.markDown(1, new Error("killed"));
    fakes[1].down = false; // restarted with its initial weights
    await expect.poll(() => p.stats[1].up, { timeout: 2000 }).toBe(true);
    expect(fakes[1].loaded).toBe(1);
    expect(fakes[1].calls.slice(-3)).toEqual(["pause", "load /w/v1 v1", "resume"]);
    await p.close();
  });

  it("takes a replica that answers with stale weights out and retries elsewhere", async () => {
    const { p, fakes } = await pool(2);
    fakes[0].reports = 0;
    fakes[1].reports = 0;
    await p.updateWeights({ kind: "checkpoint", dir: "/w/v1" });
    fakes[0].reports = 0; // as if it had restarted and missed the update
    const rs = await Promise.all(Array.from({ length: 4 }, (_, i) => p.generate(req([i]))));
    expect(rs.every((r) => r.policyVersion === 1 && r.policyVersions.join() === "1")).toBe(true);
    expect(p.stats[0].lastError).toMatch(/weight version 0 while the pool was at 1: it missed a weight update/);
    await p.close();
  });
});

describe("weight updates", () => {
  it("pauses, loads and resumes every replica, stamps versions, and holds new requests meanwhile", async () => {
    const { p, fakes } = await pool(2);
    const before = await p.generate(req([1]));
    expect([before.policyVersion, before.policyVersions]).toEqual([0, [0]]);
    fakes.forEach((f) => (f.delayMs = 30));
    const inFlight = p.generate(req([2])); // sent before the update, answered after it
    await new Promise((r) => setTimeout(r, 5));
    const update = p.updateWeights({ kind: "checkpoint", dir: "/w/v1" });
    const during = p.generate(req([3])); // arrives during the update: waits for it
    expect(await update).toBe(1);
    const [a, b] = await Promise.all([inFlight, during]);
    expect(a.policyVersions).toEqual([0, 1]); // may have produced tokens under either
    expect(a.generationPolicyVersions).toBeUndefined(); // so no per-token claim
    expect([b.policyVersion, b.policyVersions]).toEqual([1, [1]]);
    expect(b.generationPolicyVersions).toEqual(b.generationTokenIds.map(() => 1));
    expect(b.generationTokenIds.length).toBeGreaterThan(0);
    for (const f of fakes) expect(f.calls).toEqual(["pause", `load /w/v1 v1`, "resume"]);
    expect(p.policyVersion).toBe(1);
    expect(p.lastRefitMs).toBeGreaterThan(0);
    await expect(p.updateWeights(new Float32Array(4))).rejects.toThrow(/checkpoint directory/);
    await p.close();
  });

  it("counts the new version for a request answered by a replica already resumed while another still resumes", async () => {
    const { p, fakes } = await pool(2);
    const resume1 = fakes[1].resume.bind(fakes[1]);
    fakes[1].resume = async () => {
      await new Promise((r) => setTimeout(r, 80)); // the slow replica holds the update open
      await resume1();
    };
    const pending = [p.generate(req([1])), p.generate(req([2]))]; // one on each, frozen by the pause
    await new Promise((r) => setTimeout(r, 1));
    await p.updateWeights({ kind: "checkpoint", dir: "/w/v1" });
    const [a, b] = await Promise.all(pending);
    // the one on fakes[0] finished before the update ended, after its replica had the new weights
    expect([a.policyVersions, b.policyVersions]).toEqual([
      [0, 1],
      [0, 1],
    ]);
    await p.close();
  });
});
