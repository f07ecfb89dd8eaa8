/**
 * Test doubles: small in-process agents answering POST /run by a script, and a GymClient whose
 * config names them. A script returns a verify response (200), a raw {status, body}, or never
 * resolves (a stall); it sees the row and how many times that rollout was attempted.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GymClient, type ConfigDict } from "../../../src/gym/index.ts";

export type Row = Record<string, unknown>;
export type AgentReply = { status: number; body: unknown } | Row;
export type AgentScript = (row: Row, attempt: number) => AgentReply | Promise<AgentReply>;

export interface FakeAgent {
  name: string;
  port: number;
  /** rows received, in arrival order. */
  received: Row[];
  inFlight: number;
  peakInFlight: number;
  close(): Promise<void>;
}

export async function startFakeAgent(name: string, script: AgentScript): Promise<FakeAgent> {
  const attempts = new Map<string, number>();
  const agent: FakeAgent = { name, port: 0, received: [], inFlight: 0, peakInFlight: 0, close: async () => {} };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const row = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Row;
    agent.received.push(row);
    agent.inFlight++;
    agent.peakInFlight = Math.max(agent.peakInFlight, agent.inFlight);
    res.on("close", () => agent.inFlight--);
    const key = `${String(row._ng_task_index)}:${String(row._ng_rollout_index)}`;
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    const reply = await script(row, attempt);
    const raw = typeof reply.status === "number" && "body" in reply;
    if (res.destroyed) return;
    res.writeHead(raw ? (reply.status as number) : 200, { "content-type": "application/json" });
    res.end(JSON.stringify(raw ? reply.body : reply));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  agent.port = (server.address() as AddressInfo).port;
  agent.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return agent;
}

/** A config naming each agent (and any extra name → port, e.g. a closed port). */
export function clientFor(agents: { name: string; port: number }[]): GymClient {
  const cfg: ConfigDict = {};
  for (const a of agents) cfg[a.name] = { responses_api_agents: { simple_agent: { host: "127.0.0.1", port: a.port } } };
  return new GymClient(cfg);
}

/** A verify response whose output holds one model call per entry of `calls`, with token fields. */
export function resultWith(row: Row, calls: { prompt: number[]; gen: number[] }[], extra: Row = {}): Row {
  const output: Row[] = [];
  calls.forEach((c, i) => {
    output.push({
      type: "message",
      role: "assistant",
      id: `msg_${i}`,
      content: [{ type: "output_text", text: "x", annotations: [] }],
      prompt_token_ids: c.prompt,
      generation_token_ids: c.gen,
      generation_log_probs: c.gen.map((t) => -t / 100),
    });
    if (i < calls.length - 1) output.push({ type: "function_call_output", call_id: `c${i}`, output: "tool" });
  });
  return { ...row, response: { id: "resp", output, status: "completed" }, reward: 1, ...extra };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
