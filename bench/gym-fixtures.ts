/**
 * Real text for the benches: the NeMo Gym example rows and recorded rollouts that ship with the
 * built-in environments (src/environments/<env>/data/example.jsonl and example_rollouts.jsonl,
 * copied from NeMo Gym's resources servers). Rollouts become the chats the policy server renders
 * for their last model call (input + every output item before the final assistant message).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { ResponseCreateParams } from "../src/gym/protocol/responses.ts";
import { responsesToChatParams } from "../src/gym/servers/vllm-model/to-chat.ts";
import { readJsonl } from "../src/rollout/jsonl.ts";
import type { ChatMessage, ChatTool } from "../src/tokenizer/index.ts";

const ENV_DIR = new URL("../src/environments/", import.meta.url).pathname;

/** Every env data file named example*.jsonl, sorted, as paths relative to the repository. */
export function gymFixtureFiles(): string[] {
  const files: string[] = [];
  for (const env of readdirSync(ENV_DIR).sort()) {
    let names: string[];
    try {
      names = readdirSync(join(ENV_DIR, env, "data"));
    } catch {
      continue;
    }
    for (const n of names.sort()) if (/^example.*\.jsonl$/.test(n)) files.push(join(ENV_DIR, env, "data", n));
  }
  return files;
}

function strings(value: unknown, out: string[]): void {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === "object") for (const v of Object.values(value)) strings(v, out);
}

/**
 * The distinct text strings of the fixtures (message contents, tool schemas' descriptions, call
 * arguments, outputs, ids; no token-id arrays): a rollout repeats its row's prompt, and keeping one
 * copy keeps repetition from flattering a cached tokenizer.
 */
export function gymFixtureText(): { text: string; files: number; strings: number } {
  const seen = new Set<string>();
  const files = gymFixtureFiles();
  for (const f of files)
    for (const { value } of readJsonl(f)) {
      const out: string[] = [];
      strings(value, out);
      for (const s of out) if (s.length > 0) seen.add(s);
    }
  return { text: [...seen].join("\n"), files: files.length, strings: seen.size };
}

export interface FixtureChat {
  messages: ChatMessage[];
  tools: ChatTool[] | null;
}

/** Each recorded rollout as the chat of its last model call. */
export function gymFixtureChats(): FixtureChat[] {
  const chats: FixtureChat[] = [];
  for (const f of gymFixtureFiles().filter((p) => p.endsWith("_rollouts.jsonl")))
    for (const { value } of readJsonl(f)) {
      const r = value as { responses_create_params: ResponseCreateParams; response: { output: Record<string, unknown>[] } };
      const output = [...r.response.output];
      while (output.length > 0 && output[output.length - 1].type === "message") output.pop();
      const input = typeof r.responses_create_params.input === "string" ? [{ role: "user", content: r.responses_create_params.input }] : r.responses_create_params.input;
      const params = { ...r.responses_create_params, input: [...input, ...output] } as ResponseCreateParams;
      const chat = responsesToChatParams(params, { returnTokenIdInformation: false, usesReasoningParser: true });
      chats.push({ messages: chat.messages as ChatMessage[], tools: (chat.tools as ChatTool[] | undefined) ?? null });
    }
  return chats;
}
