/**
 * The OpenAI server over a remote engine pool of two `gymrl serve` replicas, as gymrl train runs it
 * with `generation.backend: sglang`: chat turns that carry the Gym model proxy's X-Session-ID stay
 * on one replica, where each later turn's prompt (spliced from the earlier turns' token ids) hits
 * the prefix cache; every answer carries its token fields.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRemoteEngine, type RunningRemoteEngine } from "../../src/engine/remote/index.ts";
import { writeTinyCheckpoint } from "../../src/engine/remote/testing.ts";
import { startTestServer, type RunningServer } from "../support/openai-server.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-openai-pool-"));
let remote: RunningRemoteEngine;
let srv: RunningServer;

beforeAll(async () => {
  remote = await startRemoteEngine({ dialect: "sglang", urls: [], replicas: 2, modelDir: writeTinyCheckpoint(join(tmp, "A"), 21), slots: 16, kernels: "reference" });
  srv = await startTestServer(remote.engine, { stopTokenIds: [] });
}, 90_000);

afterAll(async () => {
  await srv?.close();
  await remote?.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface Msg {
  role: string;
  content: string | null;
  prompt_token_ids?: number[];
  generation_token_ids?: number[];
  generation_log_probs?: number[];
}

async function chat(session: string, messages: Msg[]): Promise<Msg> {
  const res = await fetch(`${srv.baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-session-id": session },
    body: JSON.stringify({ messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 0, return_tokens_as_token_ids: true }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { choices: Array<{ message: Msg }> }).choices[0].message;
}

it("keeps each rollout's turns on one replica, whose prefix cache serves the later turns", async () => {
  const pool = remote.engine;
  const sessions = ["rollout-a-0001", "rollout-b-0002", "rollout-c-0003", "rollout-d-0004"];
  const histories: Msg[][] = sessions.map((_, i) => [{ role: "user", content: `Question ${i}: what is ${i} + ${i}?` }]);
  const homes: Array<string | undefined> = [];
  const cachedBefore = pool.stats.reduce((a, s) => a + s.cachedPromptTokens, 0);
  let lastPrompt: number[][] = [];
  for (let turn = 0; turn < 3; turn++) {
    const answers = await Promise.all(sessions.map((s, i) => chat(s, histories[i])));
    answers.forEach((m, i) => {
      expect(m.generation_token_ids).toHaveLength(5);
      if (turn > 0) {
        // the splice: this turn's prompt begins with the last prompt and generation, as token ids
        expect(m.prompt_token_ids!.slice(0, lastPrompt[i].length)).toEqual(lastPrompt[i]);
      }
      histories[i].push({ ...m, role: "assistant" }, { role: "user", content: `And turn ${turn + 1}?` });
      if (turn === 0) homes[i] = pool.replicaOf(sessions[i]);
      expect(pool.replicaOf(sessions[i])).toBe(homes[i]);
    });
    lastPrompt = answers.map((m) => [...m.prompt_token_ids!, ...m.generation_token_ids!]);
  }
  expect(new Set(homes).size).toBe(2); // the rollouts were spread over both replicas
  // turns 2 and 3 of 4 rollouts reused at least their previous prompt + generation
  const cached = pool.stats.reduce((a, s) => a + s.cachedPromptTokens, 0) - cachedBefore;
  expect(cached).toBeGreaterThan(4 * 2 * 20);
});
