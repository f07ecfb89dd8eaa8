/**
 * End to end, as `gymrl gym start` runs it: one Gym (child processes) with several environments
 * in one config, vllm_model in front of a real policy server (`serve --random-init`), and a rollout
 * through each environment's simple_agent. The policy's outputs are noise, so this checks the
 * protocol — a result with a numeric reward, output items carrying token ids — not the reward.
 * The other ported environments are covered in-process (recorded-rollouts, learnable tests).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { startGym, type GymHandle } from "../../src/gym/index.ts";
import { serve, type RunningServe } from "../../src/server/serve.ts";
import { VLLM_CONFIG } from "../gym/helpers/paths.ts";
import { envConfig, post, readJsonl, type Json } from "./helpers.ts";

const ENVS = [
  { env: "calculator", agent: "calculator_simple_agent", data: "validation.jsonl" },
  { env: "arithmetic", agent: "arithmetic_simple_agent", data: "validation.jsonl" },
  { env: "example_session_state_mgmt", agent: "example_session_state_mgmt_simple_agent", data: "example.jsonl" },
];

let policy: RunningServe;
let gym: GymHandle;
beforeAll(async () => {
  policy = await serve({ randomInit: true, thread: "main" });
  gym = await startGym({
    configPaths: [VLLM_CONFIG, ...ENVS.map((e) => envConfig(e.env))],
    overrides: [`+policy_base_url=${policy.baseUrl}/v1`, "+policy_api_key=dummy", `+policy_model_name=${policy.modelName}`],
    envYaml: false,
  });
}, 120_000);
afterAll(async () => {
  await gym?.stop();
  await policy?.close();
});

test.each(ENVS)("$env: a rollout through simple_agent and vllm_model against a random-init policy", async ({ env, agent, data }) => {
  const row = readJsonl(`src/environments/${env}/data/${data}`)[0];
  // Short generations keep a noise policy fast; max_steps bounds tool loops.
  const request = { ...row, responses_create_params: { ...(row.responses_create_params as Json), max_output_tokens: 12 } };
  const url = gym.servers.find((s) => s.name === agent)!.url;
  const { status, json } = await post(`${url}/run`, request);
  expect(status, JSON.stringify(json)).toBe(200);
  expect(typeof json.reward).toBe("number");
  const output = (json.response as { output: Json[] }).output;
  const withTokens = output.filter((o) => "generation_token_ids" in o);
  expect(withTokens.length).toBeGreaterThan(0);
  for (const o of withTokens) {
    expect(Array.isArray(o.prompt_token_ids) && (o.prompt_token_ids as unknown[]).length > 0).toBe(true);
    expect((o.generation_token_ids as unknown[]).length).toBe((o.generation_log_probs as unknown[]).length);
  }
});
