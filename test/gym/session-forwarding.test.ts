/**
 * vllm_model forwards its per-rollout session to the policy as X-Session-ID, so gymrl's OpenAI
 * server can keep every turn of one rollout on one replica of a remote engine pool. Two rollouts
 * run at once through simple_agent: each one's three policy calls share a key, the two keys differ.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { EXAMPLE_CONFIG, REPO, VLLM_CONFIG } from "./helpers/paths.ts";
import { startInProcess, type InProcessGym } from "./helpers/in-process.ts";
import { completion } from "./helpers/scripted-policy.ts";

const ROW = JSON.parse(readFileSync(`${REPO}/src/environments/example_single_tool_call/data/example.jsonl`, "utf8").trim().split("\n")[0]) as Record<string, unknown>;
const seen: Array<{ session: string | undefined; step: number }> = [];
let policy: Server;
let gym: InProcessGym;

beforeAll(async () => {
  policy = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      const body = JSON.parse(text) as { messages: { role: string }[] };
      const step = body.messages.filter((m) => m.role === "assistant").length;
      seen.push({ session: req.headers["x-session-id"] as string | undefined, step });
      const reply =
        step === 0
          ? completion({ toolCalls: [{ id: "c1", name: "get_weather", arguments: '{"city":"SF"}' }], prompt: [1, 2], generation: [3] })
          : step === 1
            ? completion({ toolCalls: [{ id: "c2", name: "get_weather", arguments: '{"city":"LA"}' }], prompt: [1, 2, 3, 4], generation: [5] })
            : completion({ content: "Cold.", prompt: [1, 2, 3, 4, 5, 6], generation: [7] });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => policy.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(policy.address() as AddressInfo).port}/v1`;
  gym = await startInProcess([VLLM_CONFIG, EXAMPLE_CONFIG], [`+policy_base_url=${url}`, "+policy_api_key=dummy", "+policy_model_name=test-policy"]);
});

afterAll(async () => {
  await gym.close();
  await new Promise<void>((r) => policy.close(() => r()));
});

test("every policy call of one rollout carries that rollout's session key, and only that one", async () => {
  const run = () => fetch(`${gym.url("example_single_tool_call_simple_agent")}/run`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ROW) });
  const rs = await Promise.all([run(), run()]);
  expect(rs.map((r) => r.status)).toEqual([200, 200]);
  expect(seen).toHaveLength(6);
  const keys = [...new Set(seen.map((s) => s.session))];
  expect(keys).toHaveLength(2);
  for (const k of keys) {
    expect(k).toMatch(/^[A-Za-z0-9-]{8,64}$/);
    expect(seen.filter((s) => s.session === k).map((s) => s.step).sort()).toEqual([0, 1, 2]);
  }
});
