/**
 * Malformed input never breaks the server: over a thousand bad bodies across every endpoint, each
 * answered with a 4xx in OpenAI's error shape, and the server still serves a good request after.
 */
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { QWEN_EOS, startTestServer, type RunningServer } from "../support/openai-server.ts";
import { ScriptedEngine } from "../support/scripted-engine.ts";

let srv: RunningServer;
let engine: ScriptedEngine;
beforeAll(async () => {
  engine = new ScriptedEngine([], 512);
  srv = await startTestServer(engine, { maxBodyBytes: 256 * 1024 });
});
afterAll(() => srv.close());

const paths = ["/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize"];

const wrongType = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.constant([]),
  fc.constant({}),
  fc.constant(-1),
  fc.constant(1e300),
  fc.constant(Number.MAX_SAFE_INTEGER),
);

const badMessages = fc.oneof(
  fc.constant([]),
  fc.constant([{ role: "wizard", content: "x" }]),
  fc.constant([{ role: "user" }].map((m) => ({ ...m, content: 5 }))),
  fc.constant([{ role: "tool", content: "x" }]), // no tool_call_id
  fc.constant([{ role: "assistant", content: "x", tool_calls: [{ id: "a", type: "function", function: { name: "f", arguments: "{not json" } }] }]),
  fc.constant([{ role: "user", content: "x" }, { role: "assistant", content: "y", prompt_token_ids: [1], generation_token_ids: [-4] }]),
  fc.constant([{ role: "user", content: "x" }, { role: "assistant", content: "y", prompt_token_ids: [1e12], generation_token_ids: [2] }]),
  fc.constant([{ role: "assistant", content: "y", prompt_token_ids: [5], generation_token_ids: [6] }]), // template prefix has no EOS before? fine either way
  fc.array(wrongType, { maxLength: 3 }),
);

/** A body that is wrong in one way: a bad field value, a missing field, or not an object. */
const badBody = fc.oneof(
  fc.record({ messages: badMessages }),
  fc.record({ messages: fc.constant([{ role: "user", content: "hi" }]), temperature: fc.oneof(fc.double({ min: 2.01, max: 1e9, noNaN: true }), fc.constant(-1), fc.string()) }),
  fc.record({ messages: fc.constant([{ role: "user", content: "hi" }]), top_p: fc.oneof(fc.constant(0), fc.constant(1.5), fc.string()) }),
  fc.record({ messages: fc.constant([{ role: "user", content: "hi" }]), max_tokens: fc.oneof(fc.constant(0), fc.constant(-5), fc.constant(1.5), fc.string()) }),
  fc.record({ messages: fc.constant([{ role: "user", content: "hi" }]), n: fc.integer({ min: 2, max: 100 }) }),
  fc.record({ messages: fc.constant([{ role: "user", content: "hi" }]), top_logprobs: fc.oneof(fc.constant(21), fc.constant(-1)) }),
  fc.record({ messages: fc.constant([{ role: "user", content: "hi" }]), tools: fc.oneof(wrongType, fc.constant([{ type: "function" }])) }),
  fc.record({ messages: fc.constant([{ role: "user", content: "hi" }]), model: fc.constant("not-the-model") }),
  fc.record({ prompt: fc.oneof(fc.constant([]), fc.constant([-1]), fc.constant([1e9]), fc.constant([1.5]), fc.constant({}), fc.constant(null)) }),
  fc.record({ tokens: fc.oneof(fc.constant([-1]), fc.constant([999999999]), fc.constant("abc"), fc.constant([0.5])) }),
  fc.record({ prompt: fc.constant("x".repeat(4000)), max_tokens: fc.constant(1) }), // over the 512-token context (chat/completions)
  wrongType,
  fc.dictionary(fc.string({ maxLength: 8 }), wrongType, { maxKeys: 4 }),
);

const rawText = fc.oneof(
  fc.constant(""),
  fc.constant("{"),
  fc.constant('{"messages": [}'),
  fc.constant("null garbage"),
  fc.string({ maxLength: 40 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
  fc.constant("x".repeat(300 * 1024)), // over the body limit
);

async function expectOpenAIError(res: Response): Promise<void> {
  expect(res.status, `status for ${res.url}`).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  const body = (await res.json()) as { error: { message: unknown; type: unknown; code: unknown } };
  expect(typeof body.error.message).toBe("string");
  expect(typeof body.error.type).toBe("string");
  expect(body.error.code).toBe(res.status);
}

it("answers 1,000+ malformed requests with OpenAI-shaped 4xx errors and keeps serving", async () => {
  let sent = 0;
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...paths), fc.oneof(badBody.map((b) => JSON.stringify(b)), rawText), async (path, text) => {
      // The chat-only and prompt-only fields make some bodies valid on another endpoint; skip those.
      const res = await fetch(`${srv.baseUrl}${path}`, { method: "POST", body: text, headers: { "content-type": "application/json" } });
      sent++;
      if (res.status === 200) {
        await res.arrayBuffer();
        return; // e.g. {"prompt": "x..."} is a valid /tokenize body
      }
      await expectOpenAIError(res);
    }),
    { numRuns: 1100 },
  );
  expect(sent).toBeGreaterThanOrEqual(1000);

  // Wrong methods and unknown paths are errors of the same shape.
  await expectOpenAIError(await fetch(`${srv.baseUrl}/v1/chat/completions`));
  await expectOpenAIError(await fetch(`${srv.baseUrl}/v1/nothing`, { method: "POST", body: "{}" }));

  // Still serving.
  engine.push([9707, QWEN_EOS]);
  const ok = await srv.client.chat.completions.create({ model: "gymrl-test", messages: [{ role: "user", content: "hi" }] });
  expect(ok.choices[0].message.content).toBe("Hello");
});
