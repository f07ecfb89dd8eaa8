/**
 * Test double: a scripted OpenAI-compatible chat server standing in for the policy. Each
 * POST /v1/chat/completions is recorded and answered by the script (a completion, or a raw
 * status + body); token fields are returned on the message, as NeMo RL's server does.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export type ScriptReply = { status: number; body: unknown } | Record<string, unknown>;
export type Script = (body: Record<string, unknown>, call: number) => ScriptReply | Promise<ScriptReply>;

export interface ScriptedPolicy {
  baseUrl: string; // .../v1
  requests: Record<string, unknown>[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startScriptedPolicy(script: Script): Promise<ScriptedPolicy> {
  const requests: Record<string, unknown>[] = [];
  const server = createServer(async (req, res) => {
    const text = await readBody(req);
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
      return;
    }
    const body = JSON.parse(text) as Record<string, unknown>;
    requests.push(body);
    const reply = await script(body, requests.length - 1);
    const isRaw = "status" in reply && typeof reply.status === "number" && "body" in reply;
    res.writeHead(isRaw ? (reply.status as number) : 200, { "content-type": "application/json" });
    res.end(JSON.stringify(isRaw ? reply.body : reply));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A chat completion with the token bundle on the message. */
export function completion(opts: {
  content?: string;
  reasoning?: string;
  toolCalls?: { id: string; name: string; arguments: string }[];
  prompt: number[];
  generation: number[];
  finish?: string;
}): Record<string, unknown> {
  return {
    id: "chatcmpl-test",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "scripted-policy",
    choices: [
      {
        index: 0,
        finish_reason: opts.finish ?? (opts.toolCalls ? "tool_calls" : "stop"),
        message: {
          role: "assistant",
          content: opts.content ?? null,
          ...(opts.reasoning ? { reasoning_content: opts.reasoning } : {}),
          ...(opts.toolCalls ? { tool_calls: opts.toolCalls.map((t) => ({ id: t.id, type: "function", function: { name: t.name, arguments: t.arguments } })) } : {}),
          prompt_token_ids: opts.prompt,
          generation_token_ids: opts.generation,
          generation_log_probs: opts.generation.map((t) => -t / 1000),
        },
      },
    ],
    usage: { prompt_tokens: opts.prompt.length, completion_tokens: opts.generation.length, total_tokens: opts.prompt.length + opts.generation.length },
  };
}
