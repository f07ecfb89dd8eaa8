/**
 * The Gym shared secret with real child processes: the launcher hands it to every child, each
 * TypeScript server then answers only callers that send it (GET / stays open for readiness), the
 * children's own calls to each other carry it, and the head server hides credentials.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startGym, type GymHandle } from "../../src/gym/index.ts";
import { SECRET_HEADER } from "../../src/gym/http/app.ts";
import { EXAMPLE_CONFIG, REPO, VLLM_CONFIG } from "./helpers/paths.ts";
import { completion, startScriptedPolicy, type ScriptedPolicy } from "./helpers/scripted-policy.ts";

const ROW = JSON.parse(readFileSync(`${REPO}/src/environments/example_single_tool_call/data/example.jsonl`, "utf8").split("\n")[0]) as Record<string, unknown>;
const SECRET = "gym-secret-for-test";

let policy: ScriptedPolicy;
let gym: GymHandle;
beforeAll(async () => {
  policy = await startScriptedPolicy(() => completion({ content: "Cold.", prompt: [1, 2], generation: [3, 4] }));
  gym = await startGym({
    configPaths: [VLLM_CONFIG, EXAMPLE_CONFIG],
    overrides: [`+policy_base_url=${policy.baseUrl}`, "+policy_api_key=sk-do-not-leak", "+policy_model_name=test-policy"],
    envYaml: false,
    secret: SECRET,
  });
}, 120_000);
afterAll(async () => {
  await gym?.stop();
  await policy?.close();
});

test("children refuse calls without the secret; GET / stays open", async () => {
  for (const s of gym.servers) {
    expect((await fetch(`${s.url}/`)).status).toBe(200);
    const path = s.serverType === "responses_api_models" ? "/v1/responses" : s.serverType === "resources_servers" ? "/seed_session" : "/run";
    const res = await fetch(`${s.url}${path}`, { method: "POST", body: "{}", headers: { [SECRET_HEADER]: "wrong" } });
    expect(res.status, s.name).toBe(401);
  }
  expect((await fetch(`${gym.headUrl}/server_instances`)).status).toBe(401);
});

test("the handle's client sends the secret, and the agent's calls to the other children carry it", async () => {
  const out = await gym.client.postJson<{ reward: number; response: { output: unknown[] } }>("example_single_tool_call_simple_agent", "/run", ROW);
  expect(typeof out.reward).toBe("number");
  expect(out.response.output.length).toBeGreaterThan(0);
  expect(policy.requests.length).toBeGreaterThan(0); // the model proxy was reached through the agent
});

test("the head server's config hides the API key but keeps the addresses", async () => {
  const res = await fetch(`${gym.headUrl}/global_config_dict_yaml`, { headers: { [SECRET_HEADER]: SECRET } });
  const text = (await res.json()) as string;
  expect(text).not.toContain("sk-do-not-leak");
  const cfg = parseYaml(text) as Record<string, unknown>;
  expect(cfg.policy_api_key).toBe("***");
  expect(cfg.policy_base_url).toBe(policy.baseUrl);
});
