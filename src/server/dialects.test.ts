/**
 * The SGLang-native and vLLM control routes of the OpenAI server, in-process over an embedded
 * engine on a small checkpoint: /generate against the engine's own greedy answer, weight updates
 * from a directory against a fresh engine on the new weights, the pause gate, the body checks
 * (4xx in each wire's error shape), and the session key reaching the engine.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type RunningServer } from "../../test/support/openai-server.ts";
import { createEmbeddedEngine, type EmbeddedEngine } from "../engine/index.ts";
import { greedyOn, TINY_IDS, writeTinyCheckpoint } from "../engine/remote/testing.ts";
import type { GenerateOptions, GenerateRequest, UpdatableGenerationEngine, WeightUpdate } from "../engine/types.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-dialects-"));
const A = writeTinyCheckpoint(join(tmp, "A"), 1);
const B = writeTinyCheckpoint(join(tmp, "B"), 2);
const prompt = [TINY_IDS[1], TINY_IDS[4], TINY_IDS[2]];

/** The embedded engine, recording the session key each request carried; `hold` parks requests before they start. */
class Recording implements UpdatableGenerationEngine {
  keys: Array<string | undefined> = [];
  hold: Promise<void> | null = null;
  constructor(readonly inner: EmbeddedEngine) {}
  get maxModelLen() {
    return this.inner.maxModelLen;
  }
  get policyVersion() {
    return this.inner.policyVersion;
  }
  async generate(r: GenerateRequest, o: GenerateOptions = {}) {
    this.keys.push(o.sessionKey);
    if (this.hold) await this.hold;
    return this.inner.generate(r, o);
  }
  updateWeights(u: WeightUpdate | Float32Array) {
    return this.inner.updateWeights(u);
  }
  close() {
    return this.inner.close();
  }
}

let engine: Recording;
let srv: RunningServer;

beforeAll(async () => {
  engine = new Recording(await createEmbeddedEngine({ modelDir: A, thread: "main", kernels: "reference" }));
  srv = await startTestServer(engine, { stopTokenIds: [] });
});

afterAll(async () => {
  await srv.close();
  await engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function post(path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(srv.baseUrl + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  const isJson = res.headers.get("content-type")?.includes("json") ?? false;
  return { status: res.status, text, json: isJson && text ? (JSON.parse(text) as Json) : undefined };
}
const get = async (path: string) => (await fetch(srv.baseUrl + path)).json() as Promise<Json>;

const generateBody = (maxNew = 6) => ({ input_ids: prompt, sampling_params: { temperature: 0, max_new_tokens: maxNew }, return_logprob: true });

describe("SGLang /generate", () => {
  it("answers output_ids with logprob triples, finish reason and version, as the engine generates", async () => {
    const [want] = await greedyOn(A, [prompt], 6);
    const r = await post("/generate", generateBody());
    expect(r.status).toBe(200);
    expect(r.json!.output_ids).toEqual(want.generationTokenIds);
    const meta = r.json!.meta_info;
    expect(meta.output_token_logprobs).toEqual(want.generationTokenIds.map((id, i) => [want.generationLogProbs[i], id, null]));
    expect(meta).toMatchObject({ finish_reason: { type: "length", length: 6 }, prompt_tokens: 3, completion_tokens: 6, weight_version: "0" });
  });

  it.each([
    ["no prompt", { sampling_params: {} }, "input_ids"],
    ["a batch", { input_ids: [[1, 2], [3]] }, "batched input_ids"],
    ["streaming", { input_ids: [3], stream: true }, "stream"],
    ["stop strings", { input_ids: [3], sampling_params: { stop: ["\n"] } }, "stop_token_ids"],
    ["a bad top_p", { input_ids: [3], sampling_params: { top_p: 0 } }, "sampling_params.top_p"],
    ["an id outside the vocabulary", { input_ids: [10_000_000] }, "outside the vocabulary"],
    ["a negative id", { input_ids: [3, -1] }, "input_ids"],
    ["an empty prompt", { input_ids: [] }, "input_ids"],
  ])("refuses %s with a 400 naming the field", async (_, body, words) => {
    const r = await post("/generate", body);
    expect(r.status).toBe(400);
    expect(r.json!.error.message).toContain(words);
  });
});

describe("SGLang weight updates and pause", () => {
  it("loads a checkpoint with a version label; later generations equal a fresh engine on it", async () => {
    for (const [body, words] of [
      [{}, "model_path"],
      [{ model_path: "relative/dir" }, "not an absolute path"],
      [{ model_path: tmp }, "no safetensors"],
    ] as const) {
      const bad = await post("/update_weights_from_disk", body);
      expect(bad.status).toBe(400);
      expect(bad.json).toMatchObject({ success: false });
      expect(bad.json!.message).toContain(words);
    }
    const ok = await post("/update_weights_from_disk", { model_path: B, weight_version: "7" });
    expect(ok.json).toMatchObject({ success: true });
    expect((await get("/get_model_info")).weight_version).toBe("7");
    const flushed = await post("/flush_cache");
    expect([flushed.status, flushed.text]).toEqual([200, expect.stringMatching(/^Cache flushed/)]);
    const [want] = await greedyOn(B, [prompt], 6);
    const r = await post("/generate", generateBody());
    expect(r.json!.output_ids).toEqual(want.generationTokenIds);
    expect(r.json!.meta_info.weight_version).toBe("7");
  });

  it("holds requests while paused and lets them through on continue; abort mode ends in-flight ones", async () => {
    expect((await post("/pause_generation", { mode: "in_place" })).json).toEqual({ message: "Generation paused successfully.", status: "ok" });
    let done = false;
    const held = post("/generate", generateBody()).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 150));
    expect(done).toBe(false);
    await post("/continue_generation");
    expect((await held).json!.meta_info.finish_reason.type).toBe("length");

    /** Sends a request, and pauses in abort mode once the engine has it in flight. */
    const abortedInFlight = async (path: string, body: unknown) => {
      let release!: () => void;
      engine.hold = new Promise<void>((r) => (release = r));
      const seen = engine.keys.length;
      const answer = post(path, body);
      await expect.poll(() => engine.keys.length).toBe(seen + 1);
      await post("/pause_generation", { mode: "abort" });
      engine.hold = null;
      release();
      const r = await answer;
      await post("/continue_generation");
      return r;
    };
    const aborted = await abortedInFlight("/generate", generateBody(200));
    expect(aborted.json!.meta_info.finish_reason.type).toBe("abort");
    // on the OpenAI routes an aborted generation is a retryable error, not a short "finished" answer
    const c = await abortedInFlight("/v1/completions", { prompt, max_tokens: 200, temperature: 0 });
    expect([c.status, c.json!.error.message]).toEqual([503, expect.stringMatching(/aborted by a pause/)]);
    expect((await post("/pause_generation", { mode: "sideways" })).status).toBe(400);
    await post("/continue_generation");
  });
});

describe("vLLM control routes", () => {
  it("pause / is_paused / resume, in vLLM's shapes", async () => {
    expect((await post("/pause?mode=bogus")).status).toBe(400);
    expect((await post("/pause?mode=keep")).json).toEqual({ status: "paused" });
    expect(await get("/is_paused")).toEqual({ is_paused: true });
    expect((await post("/resume")).json).toEqual({ status: "resumed" });
    expect(await get("/is_paused")).toEqual({ is_paused: false });
    const reset = await post("/reset_prefix_cache");
    expect([reset.status, reset.text]).toEqual([200, ""]);
  });

  it("runs the disk weight-transfer session in order and refuses it out of order", async () => {
    expect((await post("/start_weight_update")).json!.error.message).toMatch(/init_weight_transfer_engine first/);
    expect((await post("/init_weight_transfer_engine", {})).status).toBe(400);
    expect((await post("/init_weight_transfer_engine", { init_info: {} })).status).toBe(200);
    expect((await post("/update_weights", { update_info: { path: A } })).json!.error.message).toMatch(/start_weight_update must be called/);
    const before = engine.policyVersion;
    expect((await post("/start_weight_update")).status).toBe(200);
    expect((await post("/update_weights", { update_info: { path: "x" } })).json!.error.param).toBe("update_info.path");
    expect((await post("/update_weights", { update_info: { path: A } })).status).toBe(200);
    expect((await post("/update_weights", { update_info: { path: A } })).json!.error.message).toMatch(/exactly one checkpoint/);
    expect((await post("/finish_weight_update")).status).toBe(200);
    expect(engine.policyVersion).toBe(before + 1);
    const [want] = await greedyOn(A, [prompt], 6);
    const c = await post("/v1/completions", { prompt, max_tokens: 6, temperature: 0, logprobs: 0, return_token_ids: true, return_tokens_as_token_ids: true });
    expect(c.json!.choices[0].token_ids).toEqual(want.generationTokenIds);
  });
});

describe("session key", () => {
  it("reaches the engine from the X-Session-ID header or vLLM's session_id field", async () => {
    engine.keys = [];
    await post("/v1/completions", { prompt, max_tokens: 1 }, { "x-session-id": "rollout-7" });
    await post("/v1/completions", { prompt, max_tokens: 1, session_id: "rollout-8" });
    await post("/v1/completions", { prompt, max_tokens: 1 });
    expect(engine.keys).toEqual(["rollout-7", "rollout-8", undefined]);
  });
});
