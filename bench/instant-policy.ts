/**
 * A policy that answers instantly, for bench/rollout.bench.ts only: a minimal OpenAI-compatible
 * `POST /v1/chat/completions` that returns a fixed get_weather tool call on the first turn and a
 * final answer once a tool result is in the conversation, with token fields on the message (as
 * gymrl's server and NeMo RL's return them) that extend each other turn to turn. No model, no
 * tokenizer: the benchmark measures orchestration, not generation. With `tool_choice: "none"` it
 * answers at once (one model call per rollout).
 *
 * Run as a child: `node --import tsx bench/instant-policy.ts` prints `{"port": N}` on stdout.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const PROMPT_0 = [151644, 872, 198, 1, 2, 3, 4, 5, 151645, 198, 151644, 77091, 198];
const GEN_0 = [151657, 10, 11, 12, 151658, 151645];
const TOOL = [198, 151644, 872, 198, 20, 21, 22, 151645, 198, 151644, 77091, 198];
const GEN_1 = [30, 31, 32, 151645];

function completion(toolTurn: boolean, direct = false): string {
  const prompt = toolTurn || direct ? PROMPT_0 : [...PROMPT_0, ...GEN_0, ...TOOL];
  const gen = toolTurn ? GEN_0 : GEN_1;
  const message = toolTurn
    ? { role: "assistant", content: null, tool_calls: [{ id: "call_0", type: "function", function: { name: "get_weather", arguments: '{"city":"SF"}' } }] }
    : { role: "assistant", content: "It is cold in SF." };
  return JSON.stringify({
    id: "chatcmpl-instant",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "instant",
    choices: [
      {
        index: 0,
        finish_reason: toolTurn ? "tool_calls" : "stop",
        message: { ...message, prompt_token_ids: prompt, generation_token_ids: gen, generation_log_probs: gen.map(() => -0.5) },
      },
    ],
    usage: { prompt_tokens: prompt.length, completion_tokens: gen.length, total_tokens: prompt.length + gen.length },
  });
}
const TOOL_CALL = completion(true);
const ANSWER = completion(false);
/** tool_choice "none": the answer at once, one model call per rollout (the benchmark's scale run). */
const DIRECT_ANSWER = completion(false, true);

export function startInstantPolicy(port = 0): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
        return;
      }
      // A tool result in the conversation means the tool turn is done: answer.
      const answered = body.includes('"role":"tool"');
      const direct = body.includes('"tool_choice":"none"');
      res.writeHead(200, { "content-type": "application/json" }).end(direct ? DIRECT_ANSWER : answered ? ANSWER : TOOL_CALL);
    });
  });
  return new Promise((resolve) =>
    server.listen(port, "127.0.0.1", () =>
      resolve({
        baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
        close: () => new Promise<void>((r) => {
          server.close(() => r());
          server.closeAllConnections();
        }),
      }),
    ),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const p = await startInstantPolicy();
  process.stdout.write(`${JSON.stringify({ port: Number(new URL(p.baseUrl).port) })}\n`);
  process.stdin.on("end", () => process.exit(0)); // exit with the benchmark
  process.stdin.resume();
}
