/**
 * The HTTP fuzzer at a small count (npm run fuzz runs 1,000 bodies per server): every endpoint of
 * the OpenAI server and of every Gym server answers hostile bodies with a 4xx JSON error in its own
 * shape, never crashes, and still serves a valid request afterwards.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { fuzzTarget } from "../support/fuzz/run.ts";
import { startFuzzServers, type FuzzServers } from "../support/fuzz/targets.ts";

let servers: FuzzServers;
beforeAll(async () => {
  servers = await startFuzzServers();
}, 60_000);
afterAll(() => servers?.close());

it("covers the OpenAI server, the head server, agents, the model proxy and every resources server", () => {
  const names = servers.targets.map((t) => t.name);
  expect(names).toEqual(expect.arrayContaining(["openai_server", "head_server", "policy_model", "example_single_tool_call", "example_single_tool_call_simple_agent", "mcqa", "math_with_judge"]));
  expect(names.length).toBeGreaterThanOrEqual(20);
});

it("answers hostile bodies on every server with 4xx errors in its shape, and keeps serving", async () => {
  for (const t of servers.targets) {
    // at least two bodies per endpoint, so each one sees a hostile body
    const r = await fuzzTarget(t, { bodies: Math.max(40, 2 * t.endpoints.length), bodyLimit: servers.bodyLimit, seed: 7, timeoutMs: 10_000 });
    expect({ server: r.server, crashes: r.crashes, non_4xx: r.non_4xx, still_serves: r.still_serves, examples: r.examples }).toEqual({
      server: t.name,
      crashes: 0,
      non_4xx: 0,
      still_serves: true,
      examples: [],
    });
  }
}, 60_000);

it("a tool given a JSON null (not an arguments object) is a 422, as found by the full fuzz run", async () => {
  const t = servers.targets.find((x) => x.name === "example_session_state_mgmt_resources_server")!;
  const res = await fetch(`${t.baseUrl}/get_counter_value`, { method: "POST", body: "null", headers: { "content-type": "application/json" } });
  expect(res.status).toBe(422);
  expect(await res.json()).toHaveProperty("detail");
  // no body at all still means "no arguments"
  expect((await fetch(`${t.baseUrl}/get_counter_value`, { method: "POST" })).status).toBe(200);
});
