/**
 * The base servers in-process, against a scripted OpenAI-compatible policy (a test double):
 * resources server endpoints and sessions, a multi-step simple_agent rollout keeping token fields
 * intact, the OpenAI SDK as a real client, context overflow, replica stickiness, bad requests.
 */
import { readFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { defineResourcesServer, tool, type Session } from "../../src/gym/index.ts";
import { aggregateMetricsResponse, verifyResponse } from "../../src/gym/protocol/index.ts";
import { EXAMPLE_CONFIG, REPO, VLLM_CONFIG } from "./helpers/paths.ts";
import { startInProcess, type InProcessGym } from "./helpers/in-process.ts";
import { completion, startScriptedPolicy, type Script, type ScriptedPolicy } from "./helpers/scripted-policy.ts";

const ROWS = readFileSync(`${REPO}/src/environments/example_single_tool_call/data/example.jsonl`, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
const AGENT = "example_single_tool_call_simple_agent";
const RES = "example_single_tool_call";
const COOKIE = `SimpleWeatherResourcesServer___${RES}`;

/** A port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function post(url: string, body: unknown, cookie?: string) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Record<string, unknown>, cookies: res.headers.getSetCookie().map((c) => c.split(";")[0]) };
}

/** Three model calls: reasoning + two tool calls; a call with bad JSON arguments; the final answer. */
const BUNDLES = [
  { prompt: [1, 2, 3], generation: [10, 11, 12] },
  { prompt: [1, 2, 3, 10, 11, 12, 20, 21], generation: [30, 31] },
  { prompt: [1, 2, 3, 10, 11, 12, 20, 21, 30, 31, 40], generation: [50, 51, 52, 53] },
];
const threeStep: Script = (body) => {
  // The step is read from the conversation, so concurrent rollouts each get the whole script.
  const i = (body.messages as { role: string }[]).filter((m) => m.role === "assistant").length % 3;
  if (i === 0) return completion({ reasoning: "two cities", toolCalls: [{ id: "c1", name: "get_weather", arguments: '{"city":"SF"}' }, { id: "c2", name: "get_weather", arguments: '{"city":"NYC"}' }], ...BUNDLES[0] });
  if (i === 1) return completion({ toolCalls: [{ id: "c3", name: "get_weather", arguments: "{not json" }], ...BUNDLES[1] });
  return completion({ content: "Cold in both.", ...BUNDLES[2] });
};

describe("multi-step rollout through simple_agent and vllm_model", () => {
  let policy: ScriptedPolicy;
  let gym: InProcessGym;
  beforeAll(async () => {
    policy = await startScriptedPolicy(threeStep);
    gym = await startInProcess([VLLM_CONFIG, EXAMPLE_CONFIG], [`+policy_base_url=${policy.baseUrl}`, "+policy_api_key=dummy", "+policy_model_name=test-policy"]);
  });
  afterAll(async () => {
    await gym.close();
    await policy.close();
  });

  test("/run: token fields intact from the policy to the agent's output; tools called in order", async () => {
    policy.requests.length = 0;
    const { status, json } = await post(`${gym.url(AGENT)}/run`, ROWS[0]);
    expect(status).toBe(200);
    const result = verifyResponse.parse(json);
    expect(result.reward).toBe(1);
    expect(result.responses_create_params).toEqual(ROWS[0].responses_create_params); // the row is echoed
    const out = result.response.output as Record<string, unknown>[];
    expect(out.map((o) => o.type)).toEqual(["reasoning", "function_call", "function_call", "function_call_output", "function_call_output", "function_call", "function_call_output", "message"]);

    // Exactly the last item of each model call carries that call's bundle, as the policy sent it.
    const withTokens = out.flatMap((o, i) => ("generation_token_ids" in o ? [i] : []));
    expect(withTokens).toEqual([2, 5, 7]);
    withTokens.forEach((idx, call) => {
      expect(out[idx].prompt_token_ids).toEqual(BUNDLES[call].prompt);
      expect(out[idx].generation_token_ids).toEqual(BUNDLES[call].generation);
      expect(out[idx].generation_log_probs).toEqual(BUNDLES[call].generation.map((t) => -t / 1000));
    });

    expect(JSON.parse(out[3].output as string)).toEqual({ city: "SF", weather_description: "The weather in SF is cold." });
    expect(JSON.parse(out[4].output as string)).toEqual({ city: "NYC", weather_description: "The weather in NYC is cold." });
    expect(out[6].output).toMatch(/Invalid tool call arguments/);
    expect(result.response.usage).toMatchObject({ input_tokens: 3 + 8 + 11, output_tokens: 3 + 2 + 4 });

    // The policy saw the token flags, and each earlier turn's bundle on its assistant message (for the prefix splice).
    expect(policy.requests).toHaveLength(3);
    for (const r of policy.requests) expect(r).toMatchObject({ model: "test-policy", logprobs: true, top_logprobs: 0, return_tokens_as_token_ids: true });
    const assistants = (policy.requests[2].messages as Record<string, unknown>[]).filter((m) => m.role === "assistant");
    expect(assistants).toHaveLength(2);
    expect(assistants[0]).toMatchObject({ reasoning_content: "two cities", prompt_token_ids: BUNDLES[0].prompt, generation_token_ids: BUNDLES[0].generation });
    expect(assistants[1]).toMatchObject({ prompt_token_ids: BUNDLES[1].prompt, generation_token_ids: BUNDLES[1].generation });
  });

  test("the OpenAI SDK talks to the agent's and the model's /v1/responses and /v1/chat/completions", async () => {
    const agent = new OpenAI({ baseURL: `${gym.url(AGENT)}/v1`, apiKey: "unused", maxRetries: 0 });
    const params = ROWS[1].responses_create_params as OpenAI.Responses.ResponseCreateParamsNonStreaming;
    const episode = await agent.responses.create({ ...params, model: "ignored" });
    expect(episode.output.filter((o) => "generation_token_ids" in o)).toHaveLength(3);
    expect(episode.output_text).toBe("Cold in both.");

    const model = new OpenAI({ baseURL: `${gym.url("policy_model")}/v1`, apiKey: "unused", maxRetries: 0 });
    policy.requests.length = 0;
    const one = await model.responses.create({ model: "m", input: "weather?", instructions: "be brief" });
    expect(one.output.map((o) => o.type)).toEqual(["reasoning", "function_call", "function_call"]);
    expect(one.output[2]).toMatchObject({ generation_token_ids: BUNDLES[0].generation });
    expect(policy.requests[0].messages).toEqual([{ role: "system", content: "be brief" }, { role: "user", content: "weather?" }]);

    policy.requests.length = 0;
    const chat = await model.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
    expect(chat.choices[0].message).toMatchObject({ prompt_token_ids: BUNDLES[0].prompt, generation_token_ids: BUNDLES[0].generation });
    expect(policy.requests[0]).toMatchObject({ model: "test-policy", logprobs: true, top_logprobs: 0 });
  });
});

describe("example_single_tool_call resources server", () => {
  let gym: InProcessGym;
  beforeAll(async () => {
    gym = await startInProcess([VLLM_CONFIG, EXAMPLE_CONFIG], ["+policy_base_url=http://127.0.0.1:9/v1", "+policy_api_key=k", "+policy_model_name=m"]);
  });
  afterAll(() => gym.close());

  test("every endpoint answers with NeMo Gym's shapes and a session cookie", async () => {
    const url = gym.url(RES);
    expect(await (await fetch(`${url}/`)).json()).toEqual({ status: "ok" });
    const seeded = await post(`${url}/seed_session`, { ...ROWS[0], extra_task_field: 1 });
    expect(seeded).toMatchObject({ status: 200, json: {} });
    expect(seeded.cookies[0]).toMatch(new RegExp(`^${COOKIE}=`));
    const weather = await post(`${url}/get_weather`, { city: "Paris" }, seeded.cookies[0]);
    expect(weather.json).toEqual({ city: "Paris", weather_description: "The weather in Paris is cold." });
    expect(weather.cookies[0]).toBe(seeded.cookies[0]); // same session: the cookie is echoed back unchanged

    const recorded = readFileSync(`${REPO}/src/environments/example_single_tool_call/data/example_rollouts.jsonl`, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of recorded) {
      const { reward, ...request } = r;
      const verified = await post(`${url}/verify`, request);
      expect(verified.status).toBe(200);
      expect(verified.json).toEqual({ ...request, reward }); // NeMo Gym's own recorded results
    }
    const metrics = await post(`${url}/aggregate_metrics`, { verify_responses: [{ reward: 1, _ng_task_index: 0 }, { reward: 0, _ng_task_index: 0, accuracy: true }] });
    expect(aggregateMetricsResponse.parse(metrics.json).agent_metrics).toMatchObject({ "mean/reward": 0.5, num_rollouts: 2 });
    expect(await (await fetch(`${url}/reverify_mode`)).json()).toBe("unknown");
  });
});

describe("sessions, overflow, replicas", () => {
  test("resources state is per session cookie; the agent keeps one session per rollout", async () => {
    // A counting environment (test double): each tool call increments its session's counter.
    const counter = defineResourcesServer<{ n: number; seed?: number }>({
      name: "Counter",
      initialState: () => ({ n: 0 }),
      seedSession: (row, s) => void (s.state.seed = row.start as number),
      tools: { get_weather: tool(z.object({ city: z.string() }), (_a, s: Session<{ n: number }>) => ({ n: ++s.state.n })) },
      verify: (_b, s) => ({ reward: s.state.n, seed: s.state.seed ?? -1 }),
    });
    const policy = await startScriptedPolicy(threeStep);
    const gym = await startInProcess([VLLM_CONFIG, EXAMPLE_CONFIG], [`+policy_base_url=${policy.baseUrl}`, "+policy_api_key=k", "+policy_model_name=m"], { [RES]: counter });
    try {
      const results = await Promise.all([5, 6, 7].map((start) => post(`${gym.url(AGENT)}/run`, { ...ROWS[0], start })));
      // Two valid tool calls per rollout (the third has bad JSON and never reaches the server).
      expect(results.map((r) => [r.json.reward, r.json.seed])).toEqual([[2, 5], [2, 6], [2, 7]]);
    } finally {
      await gym.close();
      await policy.close();
    }
  });

  test("max_steps ends the episode after that many model calls", async () => {
    const policy = await startScriptedPolicy(threeStep);
    const gym = await startInProcess([VLLM_CONFIG, EXAMPLE_CONFIG], [`+policy_base_url=${policy.baseUrl}`, "+policy_api_key=k", "+policy_model_name=m", `+${AGENT}.responses_api_agents.simple_agent.max_steps=1`]);
    try {
      const { json } = await post(`${gym.url(AGENT)}/run`, ROWS[0]);
      const out = (json.response as { output: { type: string }[] }).output;
      expect(out.map((o) => o.type)).toEqual(["reasoning", "function_call", "function_call", "function_call_output", "function_call_output"]);
      expect(policy.requests).toHaveLength(1);
    } finally {
      await gym.close();
      await policy.close();
    }
  });

  test("context overflow at the policy → an incomplete, token-less response, not an error", async () => {
    const policy = await startScriptedPolicy(() => ({ status: 400, body: { error: { message: "This model's maximum context length is 32 tokens. However, you requested 900 tokens.", type: "invalid_request_error", code: 400 } } }));
    const gym = await startInProcess([VLLM_CONFIG, EXAMPLE_CONFIG], [`+policy_base_url=${policy.baseUrl}`, "+policy_api_key=k", "+policy_model_name=m"]);
    try {
      const { status, json } = await post(`${gym.url(AGENT)}/run`, ROWS[0]);
      expect(status).toBe(200);
      const response = json.response as Record<string, unknown>;
      expect(response).toMatchObject({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
      expect(response.output).toHaveLength(1);
      expect(JSON.stringify(response.output)).not.toContain("generation_token_ids");
      expect(policy.requests).toHaveLength(1); // the agent stopped at once
    } finally {
      await gym.close();
      await policy.close();
    }
  });

  test("with several base_urls, every call of one rollout goes to the same replica", async () => {
    const a = await startScriptedPolicy(threeStep);
    const b = await startScriptedPolicy(threeStep);
    const gym = await startInProcess([VLLM_CONFIG, EXAMPLE_CONFIG], [`+policy_base_url=[${a.baseUrl},${b.baseUrl}]`, "+policy_api_key=k", "+policy_model_name=m"]);
    try {
      for (let i = 0; i < 12; i++) {
        const before = [a.requests.length, b.requests.length];
        expect((await post(`${gym.url(AGENT)}/run`, ROWS[i % ROWS.length])).status).toBe(200);
        const delta = [a.requests.length - before[0], b.requests.length - before[1]].sort();
        expect(delta).toEqual([0, 3]);
      }
      expect(a.requests.length).toBeGreaterThan(0);
      expect(b.requests.length).toBeGreaterThan(0);
    } finally {
      await gym.close();
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe("bad requests: a JSON 4xx on every endpoint, and the server keeps serving", () => {
  let gym: InProcessGym;
  let deadPort: number;
  beforeAll(async () => {
    deadPort = await closedPort();
    gym = await startInProcess([VLLM_CONFIG, EXAMPLE_CONFIG], [`+policy_base_url=http://127.0.0.1:${deadPort}/v1`, "+policy_api_key=k", "+policy_model_name=m"]);
  });
  afterAll(() => gym.close());

  const endpoints: [string, string, unknown][] = [
    [RES, "/seed_session", []],
    [RES, "/get_weather", { town: "SF" }],
    [RES, "/verify", { responses_create_params: { input: "x" } }],
    [RES, "/aggregate_metrics", { verify_responses: "no" }],
    [AGENT, "/run", { responses_create_params: { input: 3 } }],
    [AGENT, "/v1/responses", { input: "x", not_a_field: true }],
    [AGENT, "/aggregate_metrics", { verify_responses: 1 }],
    ["policy_model", "/v1/responses", { input: [{ type: "function_call", name: "f" }] }],
    ["policy_model", "/v1/chat/completions", { messages: [] }],
  ];

  test.each(endpoints)("%s %s", async (server, path, badBody) => {
    const url = `${gym.url(server)}${path}`;
    for (const body of ["{not json", badBody]) {
      const r = await post(url, body);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      if (path.startsWith("/v1/")) expect(r.json.error).toMatchObject({ message: expect.any(String), type: "invalid_request_error", code: r.status });
      else expect(r.json.detail).toBeDefined();
    }
    const missing = await post(`${gym.url(server)}/no_such_endpoint`, {});
    expect([missing.status, missing.json]).toEqual([404, { detail: "Not Found" }]);
    expect((await fetch(`${url}`)).status).toBe(405);
    expect(await (await fetch(`${gym.url(server)}/`)).json()).toEqual({ status: "ok" });
  });

  test("an unreachable policy is a JSON 5xx naming it, and the agent still serves", async () => {
    const r = await post(`${gym.url(AGENT)}/run`, ROWS[0]);
    expect(r.status).toBe(500);
    expect(String(r.json.detail)).toMatch(new RegExp(`policy_model.*policy server unreachable.*127\\.0\\.0\\.1:${deadPort}.*ECONNREFUSED`, "s"));
    expect(await (await fetch(`${gym.url(AGENT)}/`)).json()).toEqual({ status: "ok" });
  }, 30_000);
});
