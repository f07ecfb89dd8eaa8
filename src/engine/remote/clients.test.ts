/**
 * The dialect clients against a tiny fake HTTP server: the request bodies they send (the
 * documented wire shapes), and every kind of bad answer (garbage JSON, missing token ids, wrong
 * lengths, mismatched ids, HTTP 5xx / 4xx, a dead port) becoming an error that names the replica
 * and the field, never a result.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerateRequest } from "../types.ts";
import { RemoteEngineError } from "./errors.ts";
import { SglangClient } from "./sglang-client.ts";
import { VllmClient } from "./vllm-client.ts";

let server: Server;
let url: string;
/** what the fake answers next: status and raw body text */
let next: { status: number; text: string } = { status: 200, text: "{}" };
const seen: Array<{ path: string; body: unknown }> = [];
const auths: Array<string | undefined> = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      seen.push({ path: req.url ?? "", body: text ? (JSON.parse(text) as unknown) : undefined });
      auths.push(req.headers.authorization);
      res.writeHead(next.status, { "content-type": "application/json" });
      res.end(next.text);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const request: GenerateRequest = {
  promptTokenIds: [5, 7, 11],
  sampling: { temperature: 0.7, topP: 0.9, topK: 0, seed: 3 },
  maxTokens: 4,
  stopTokenIds: [2],
};

const answer = (status: number, body: unknown) => {
  next = { status, text: typeof body === "string" ? body : JSON.stringify(body) };
};

async function failure(p: Promise<unknown>): Promise<RemoteEngineError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(RemoteEngineError);
  return e as RemoteEngineError;
}

/** A JSON answer a test spoils in place. */
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe("vLLM client", () => {
  const client = () => new VllmClient(url, { modelName: "m" });
  const good = (): Json => ({
    choices: [
      {
        index: 0,
        text: "",
        prompt_token_ids: [5, 7, 11],
        token_ids: [13, 2],
        logprobs: { tokens: ["token_id:13", "token_id:2"], token_logprobs: [-0.5, -0.25], top_logprobs: [{}, {}], text_offset: [] },
        finish_reason: "stop",
      },
    ],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, prompt_tokens_details: { cached_tokens: 2 } },
  });

  it("sends a token-id prompt with return_token_ids, token-id logprobs and stop ids, and reads the answer", async () => {
    answer(200, good());
    const r = await client().generate(request, { sessionKey: "rollout-1" });
    expect(seen.at(-1)).toEqual({
      path: "/v1/completions",
      body: {
        model: "m",
        prompt: [5, 7, 11],
        max_tokens: 4,
        temperature: 0.7,
        top_p: 0.9,
        top_k: -1,
        seed: 3,
        stop_token_ids: [2],
        logprobs: 0,
        return_tokens_as_token_ids: true,
        return_token_ids: true,
        session_id: "rollout-1",
      },
    });
    expect(r).toEqual({ promptTokenIds: [5, 7, 11], generationTokenIds: [13, 2], generationLogProbs: [-0.5, -0.25], finishReason: "stop", cachedPromptTokens: 2 });
  });

  it.each([
    ["missing token ids", (b: Json) => delete b.choices[0].token_ids, "choices[0].token_ids is missing"],
    ["a logprob list of the wrong length", (b: Json) => b.choices[0].logprobs.token_logprobs.pop(), "choices[0].logprobs.token_logprobs has 1 entries but choices[0].token_ids has 2"],
    ["logprob names that disagree with the ids", (b: Json) => (b.choices[0].logprobs.tokens[1] = "token_id:3"), "choices[0].logprobs.tokens[1]"],
    ["a prompt other than the one sent", (b: Json) => (b.choices[0].prompt_token_ids = [5, 7]), "choices[0].prompt_token_ids differs from the prompt sent"],
    ["a positive logprob", (b: Json) => (b.choices[0].logprobs.token_logprobs[0] = 0.5), "not a log-probability"],
    ["an unknown finish reason", (b: Json) => (b.choices[0].finish_reason = "tool_calls"), "choices[0].finish_reason"],
    ["more tokens than asked for", (b: Json) => (b.choices[0].token_ids = [1, 1, 1, 1, 1]), "more than max_tokens"],
  ])("refuses an answer with %s, naming the replica and the field", async (_, spoil, message) => {
    const b = good();
    spoil(b);
    answer(200, b);
    const e = await failure(client().generate(request, {}));
    expect(e.kind).toBe("invalid-response");
    expect(e.message).toContain(`replica ${url}`);
    expect(e.message).toContain(message);
    expect(e.replicaFault).toBe(false);
  });

  it("tells garbage, 5xx, 4xx and a dead port apart", async () => {
    answer(200, "<html>oops");
    expect((await failure(client().generate(request, {}))).message).toMatch(/POST \/v1\/completions response is not JSON/);
    answer(503, { error: "overloaded" });
    const e5 = await failure(client().generate(request, {}));
    expect([e5.kind, e5.status, e5.replicaFault]).toEqual(["server", 503, true]);
    answer(400, { error: { message: "prompt too long" } });
    const e4 = await failure(client().generate(request, {}));
    expect([e4.kind, e4.replicaFault]).toEqual(["rejected", false]);
    expect(e4.message).toContain("prompt too long");
    const dead = await failure(new VllmClient("http://127.0.0.1:1").generate(request, {}));
    expect([dead.kind, dead.replicaFault]).toEqual(["unreachable", true]);
  });

  it("syncs weights through the documented dev-mode calls, in order", async () => {
    answer(200, "{}");
    const c = client();
    const from = seen.length;
    await c.pause();
    await c.loadWeights("/ckpt/v1", 1);
    await c.resume();
    await c.loadWeights("/ckpt/v2", 2); // the transfer engine is initialised once
    expect(seen.slice(from).map((s) => [s.path, s.body])).toEqual([
      ["/pause?mode=keep", undefined],
      ["/init_weight_transfer_engine", { init_info: {} }],
      ["/start_weight_update", undefined],
      ["/update_weights", { update_info: { path: "/ckpt/v1" } }],
      ["/finish_weight_update", undefined],
      ["/reset_prefix_cache", undefined],
      ["/resume", undefined],
      ["/start_weight_update", undefined],
      ["/update_weights", { update_info: { path: "/ckpt/v2" } }],
      ["/finish_weight_update", undefined],
      ["/reset_prefix_cache", undefined],
    ]);
    await new VllmClient(url, { pauseMode: "wait" }).pause();
    expect(seen.at(-1)!.path).toBe("/pause?mode=wait");
    await new VllmClient(url, { apiKey: "k1" }).resume();
    expect(auths.at(-1)).toBe("Bearer k1");
  });
});

describe("SGLang client", () => {
  const client = () => new SglangClient(url);
  const good = (): Json => ({
    text: "..",
    output_ids: [13, 17],
    meta_info: {
      id: "r1",
      finish_reason: { type: "length", length: 2 },
      prompt_tokens: 3,
      completion_tokens: 2,
      cached_tokens: 1,
      weight_version: "4",
      output_token_logprobs: [
        [-0.5, 13, null],
        [-1.5, 17, null],
      ],
    },
  });

  it("sends input_ids with sampling_params and return_logprob, and reads versions from weight_version", async () => {
    answer(200, good());
    const r = await client().generate({ ...request, maxTokens: 2 }, {});
    expect(seen.at(-1)).toEqual({
      path: "/generate",
      body: {
        input_ids: [5, 7, 11],
        sampling_params: { temperature: 0.7, top_p: 0.9, top_k: -1, max_new_tokens: 2, stop_token_ids: [2], sampling_seed: 3 },
        return_logprob: true,
        logprob_start_len: -1,
        stream: false,
      },
    });
    expect(r).toEqual({
      promptTokenIds: [5, 7, 11],
      generationTokenIds: [13, 17],
      generationLogProbs: [-0.5, -1.5],
      finishReason: "length",
      cachedPromptTokens: 1,
      reportedVersions: [4],
    });
  });

  it.each([
    ["no output_ids", (b: Json) => delete b.output_ids, "output_ids is missing"],
    ["no meta_info", (b: Json) => delete b.meta_info, "meta_info is missing"],
    ["a logprob triple for another token", (b: Json) => (b.meta_info.output_token_logprobs[1][1] = 19), "meta_info.output_token_logprobs[1][1] is token 19 but output_ids[1] is 17"],
    ["too few logprobs", (b: Json) => b.meta_info.output_token_logprobs.pop(), "meta_info.output_token_logprobs has 1 entries but output_ids has 2"],
    ["a prompt count other than the prompt's", (b: Json) => (b.meta_info.prompt_tokens = 2), "meta_info.prompt_tokens is 2"],
    ["a finish reason that is not an object", (b: Json) => (b.meta_info.finish_reason = "length"), "meta_info.finish_reason"],
  ])("refuses an answer with %s", async (_, spoil, message) => {
    const b = good();
    spoil(b);
    answer(200, b);
    const e = await failure(client().generate({ ...request, maxTokens: 2 }, {}));
    expect(e.kind).toBe("invalid-response");
    expect(e.message).toContain(`replica ${url}: POST /generate response: ${message}`);
  });

  it("syncs weights with pause_generation, update_weights_from_disk (version label) and continue_generation", async () => {
    answer(200, { success: true, message: "ok", num_paused_requests: 0 });
    const c = client();
    const from = seen.length;
    await c.pause();
    await c.loadWeights("/ckpt/v3", 3);
    await c.resume();
    expect(seen.slice(from).map((s) => [s.path, s.body])).toEqual([
      ["/pause_generation", { mode: "abort" }],
      ["/update_weights_from_disk", { model_path: "/ckpt/v3", weight_version: "3", flush_cache: true }],
      ["/continue_generation", {}],
    ]);
    answer(400, { success: false, message: "no such file" });
    const e = await failure(c.loadWeights("/nope", 4));
    expect(e.message).toContain("no such file");
    expect(e.replicaFault).toBe(true);
  });
});
