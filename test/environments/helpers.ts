/** Shared by the environment tests: JSONL, posting with a session cookie, the environments' configs, demo → Responses output. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { chatToOutputItems } from "../../src/gym/servers/vllm-model/from-chat.ts";
import type { ChatCompletion } from "../../src/gym/protocol/chat.ts";
import { REPO } from "../gym/helpers/paths.ts";

export type Json = Record<string, unknown>;

export const readJsonl = (path: string): Json[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Json);

export const envConfig = (env: string) => resolve(REPO, `src/environments/${env}/configs/${env}.yaml`);

export async function post(url: string, body: unknown, cookie?: string): Promise<{ status: number; json: Json; cookie?: string }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Json, cookie: res.headers.getSetCookie()[0]?.split(";")[0] };
}

/**
 * A demonstration conversation → the Responses `output` the agent would have produced: each
 * assistant turn through vllm_model's own converter (chatToOutputItems), each tool message as the
 * function_call_output simple_agent appends.
 */
export function demoToOutput(messages: Json[]): Json[] {
  const out: Json[] = [];
  for (const m of messages.slice(messages.findIndex((x) => x.role === "assistant"))) {
    if (m.role === "assistant") {
      const completion = { id: "demo", object: "chat.completion", created: 0, model: "demo", choices: [{ index: 0, finish_reason: "stop", message: m }] };
      out.push(...(chatToOutputItems(completion as unknown as ChatCompletion) as Json[]));
    } else if (m.role === "tool") {
      out.push({ type: "function_call_output", call_id: m.tool_call_id, output: m.content });
    }
  }
  return out;
}

/** A minimal Responses response around output items, as /verify expects. */
export const responseOf = (output: Json[]): Json => ({ id: "resp_demo", object: "response", created_at: 0, model: "demo", output, status: "completed" });
