/**
 * The OpenAI-compatible server driven by the real `openai` SDK, with the real Qwen3 tokenizer and
 * template, over a scripted engine that lets each test choose the exact ids the "model" produced.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadQwen3Tokenizer, renderChat, type ChatMessage } from "../../src/tokenizer/index.ts";
import { ScriptedEngine } from "../support/scripted-engine.ts";
import { QWEN_EOS, startTestServer, type RunningServer } from "../support/openai-server.ts";

const tok = loadQwen3Tokenizer();
const enc = (s: string) => tok.encode(s, { allowSpecial: true });
const template = (messages: ChatMessage[], addGenerationPrompt = true, tools?: unknown[]) =>
  enc(renderChat(tok, { messages, addGenerationPrompt, tools: tools as never }));

interface TokenMessage {
  content: string | null;
  prompt_token_ids: number[];
  generation_token_ids: number[];
  generation_log_probs: number[];
  reasoning_content?: string | null;
  tool_calls?: Array<{ id: string; type: "function"; function: { name: string; arguments: string } }>;
}

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

let engine: ScriptedEngine;
let srv: RunningServer;

beforeAll(async () => {
  engine = new ScriptedEngine([]);
  srv = await startTestServer(engine);
});
afterAll(() => srv.close());

describe("chat completions through the openai SDK", () => {
  it("answers a plain chat with the templated prompt and the decoded generation", async () => {
    engine.push([...enc("Hello there!"), QWEN_EOS]);
    const messages: ChatMessage[] = [{ role: "user", content: "Say hello." }];
    const r = await srv.client.chat.completions.create({ model: "gymrl-test", messages: messages as never, max_tokens: 20 });
    expect(r.choices[0].message.content).toBe("Hello there!");
    expect(r.choices[0].finish_reason).toBe("stop");
    expect(engine.requests.at(-1)!.promptTokenIds).toEqual(template(messages));
    expect(r.usage).toEqual({ prompt_tokens: template(messages).length, completion_tokens: 4, total_tokens: template(messages).length + 4 });
  });

  it("returns the exact token ids and logprobs on the message in token-id mode", async () => {
    const gen = [...enc("Fine."), QWEN_EOS];
    engine.push(gen);
    const messages: ChatMessage[] = [{ role: "user", content: "How are you?" }];
    const r = await srv.client.chat.completions.create({
      model: "gymrl-test",
      messages: messages as never,
      logprobs: true,
      top_logprobs: 0,
      temperature: 1,
      top_p: 1,
    });
    const m = r.choices[0].message as unknown as TokenMessage;
    expect(m.prompt_token_ids).toEqual(template(messages));
    expect(m.generation_token_ids).toEqual(gen);
    expect(m.generation_log_probs).toHaveLength(gen.length);
    expect(r.choices[0].logprobs!.content!.map((c) => c.token)).toEqual(gen.map((g) => `token_id:${g}`));
    expect(r.choices[0].logprobs!.content!.map((c) => c.logprob)).toEqual(m.generation_log_probs);
  });

  it("honours vLLM's return_token_ids", async () => {
    const gen = [...enc("Yes"), QWEN_EOS];
    engine.push(gen);
    const res = await fetch(`${srv.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "Ok?" }], return_token_ids: true }),
    });
    const body = (await res.json()) as { prompt_token_ids: number[]; choices: Array<{ token_ids: number[] }> };
    expect(body.prompt_token_ids).toEqual(template([{ role: "user", content: "Ok?" }]));
    expect(body.choices[0].token_ids).toEqual(gen);
  });

  it("streams deltas that concatenate to the non-streamed message", async () => {
    const text = "<think>\nLet me think about ünïcödé 🙂.\n</think>\n\nThe answer is 42.";
    const gen = [...enc(text), QWEN_EOS];
    engine.push(gen, gen);
    const messages = [{ role: "user" as const, content: "Question?" }];
    const full = await srv.client.chat.completions.create({ model: "gymrl-test", messages });
    const stream = await srv.client.chat.completions.create({ model: "gymrl-test", messages, stream: true });
    let content = "";
    let reasoning = "";
    let finish: string | null = null;
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      const d = c.choices[0]?.delta as { content?: string; reasoning_content?: string } | undefined;
      content += d?.content ?? "";
      reasoning += d?.reasoning_content ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    const m = full.choices[0].message as unknown as TokenMessage;
    expect(chunks).toBeGreaterThan(5);
    expect(content).toBe(m.content);
    expect(reasoning).toBe(m.reasoning_content);
    expect(m.content).toContain("The answer is 42.");
    expect(m.reasoning_content).toContain("ünïcödé 🙂");
    expect(finish).toBe("stop");
  });

  it("parses tool calls into tool_calls with finish_reason tool_calls, streamed or not", async () => {
    const text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "San Francisco"}}\n</tool_call>';
    const gen = [...enc(text), QWEN_EOS];
    engine.push(gen, gen);
    const req = { model: "gymrl-test", messages: [{ role: "user" as const, content: "Weather in SF?" }], tools: [weatherTool] };
    const r = await srv.client.chat.completions.create(req);
    expect(r.choices[0].finish_reason).toBe("tool_calls");
    const calls = r.choices[0].message.tool_calls!;
    expect(calls).toHaveLength(1);
    expect(calls[0].type).toBe("function");
    const fn = (calls[0] as { function: { name: string; arguments: string } }).function;
    expect(fn.name).toBe("get_weather");
    expect(JSON.parse(fn.arguments)).toEqual({ city: "San Francisco" });
    expect(engine.requests.at(-1)!.promptTokenIds).toEqual(template(req.messages, true, [weatherTool]));

    const stream = await srv.client.chat.completions.create({ ...req, stream: true });
    const streamedCalls: unknown[] = [];
    let finish: string | null = null;
    for await (const c of stream) {
      streamedCalls.push(...(c.choices[0]?.delta.tool_calls ?? []));
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe("tool_calls");
    expect(streamedCalls).toHaveLength(1);
    expect((streamedCalls[0] as { function: { name: string } }).function.name).toBe("get_weather");
  });

  it("applies stop strings to the text and reports finish_reason stop", async () => {
    engine.push([...enc("one two three four five"), QWEN_EOS]);
    const r = await srv.client.chat.completions.create({
      model: "gymrl-test",
      messages: [{ role: "user", content: "Count" }],
      stop: [" three"],
    });
    expect(r.choices[0].message.content).toBe("one two");
    expect(r.choices[0].finish_reason).toBe("stop");
  });

  it("refuses a prompt longer than the context with an OpenAI error naming the context length", async () => {
    const long = "word ".repeat(5000);
    await expect(
      srv.client.chat.completions.create({ model: "gymrl-test", messages: [{ role: "user", content: long }] }),
    ).rejects.toMatchObject({ status: 400, type: "invalid_request_error", message: expect.stringContaining("context length") });
  });

  it("clamps max_tokens to the room left in the context", async () => {
    engine.push([...enc("x".repeat(10)), QWEN_EOS]);
    const messages = [{ role: "user" as const, content: "hi" }];
    await srv.client.chat.completions.create({ model: "gymrl-test", messages, max_tokens: 1_000_000 });
    expect(engine.requests.at(-1)!.maxTokens).toBe(engine.maxModelLen - template(messages).length);
  });

  it("404s another model name", async () => {
    await expect(
      srv.client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toMatchObject({ status: 404 });
  });
});

describe("completions, tokenize, models, health", () => {
  it("completes a string prompt and a token-id prompt identically", async () => {
    const gen = enc(" world and more");
    engine.push(gen, gen);
    const a = await srv.client.completions.create({ model: "gymrl-test", prompt: "Hello", max_tokens: 4 });
    expect(engine.requests.at(-1)!.promptTokenIds).toEqual(enc("Hello"));
    const b = await srv.client.completions.create({ model: "gymrl-test", prompt: enc("Hello"), max_tokens: 4 });
    expect(engine.requests.at(-1)!.promptTokenIds).toEqual(enc("Hello"));
    expect(a.choices[0].text).toBe(tok.decode(gen.slice(0, 4)));
    expect(b.choices[0].text).toBe(a.choices[0].text);
    expect(a.choices[0].finish_reason).toBe("length");
  });

  it("streams a completion", async () => {
    engine.push([...enc(" a b c"), QWEN_EOS]);
    const stream = await srv.client.completions.create({ model: "gymrl-test", prompt: "x", max_tokens: 10, stream: true });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.text ?? "";
    expect(text).toBe(" a b c");
  });

  it("tokenizes a prompt and chat messages as vLLM answers", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${srv.baseUrl}${path}`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.json());
    const p = await post("/tokenize", { prompt: "Hello world" });
    expect(p).toEqual({ count: 2, max_model_len: 4096, tokens: enc("Hello world") });
    const messages: ChatMessage[] = [{ role: "user", content: "hi" }];
    const c = (await post("/tokenize", { messages })) as { tokens: number[] };
    expect(c.tokens).toEqual(template(messages));
    const c2 = (await post("/tokenize", { messages, add_generation_prompt: false })) as { tokens: number[] };
    expect(c2.tokens).toEqual(template(messages, false));
    expect(await post("/detokenize", { tokens: enc("Hello world") })).toEqual({ prompt: "Hello world" });
  });

  it("lists the served model and reports health", async () => {
    const models = await srv.client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gymrl-test"]);
    const h = await fetch(`${srv.baseUrl}/health`);
    expect(h.status).toBe(200);
  });
});

describe("guards", () => {
  it("enforces an API key when configured, but not on /health", async () => {
    const e = new ScriptedEngine([[...enc("ok"), QWEN_EOS]]);
    const keyed = await startTestServer(e, { apiKey: "sekret" });
    try {
      const r = await keyed.client.chat.completions.create({ model: "gymrl-test", messages: [{ role: "user", content: "x" }] });
      expect(r.choices[0].message.content).toBe("ok");
      const bad = await fetch(`${keyed.baseUrl}/v1/models`, { headers: { authorization: "Bearer wrong" } });
      expect(bad.status).toBe(401);
      expect(((await bad.json()) as { error: { type: string } }).error.type).toBe("authentication_error");
      expect((await fetch(`${keyed.baseUrl}/health`)).status).toBe(200);
    } finally {
      await keyed.close();
    }
  });

  it("refuses sampling outside the configured profiles", async () => {
    const e = new ScriptedEngine([[...enc("ok"), QWEN_EOS]]);
    const guarded = await startTestServer(e, {
      samplingProfiles: [
        { name: "train", temperature: 1, topP: 1 },
        { name: "validation", temperature: 0, topP: 1 },
      ],
    });
    try {
      const messages = [{ role: "user" as const, content: "x" }];
      await expect(guarded.client.chat.completions.create({ model: "gymrl-test", messages, temperature: 0.7, top_p: 1 })).rejects.toMatchObject({
        status: 400,
        message: expect.stringContaining("no allowed profile"),
      });
      await expect(guarded.client.chat.completions.create({ model: "gymrl-test", messages, temperature: 1 })).rejects.toMatchObject({
        status: 400,
        message: expect.stringContaining("top_p must be set"),
      });
      const ok = await guarded.client.chat.completions.create({ model: "gymrl-test", messages, temperature: 1, top_p: 1 });
      expect(ok.choices[0].message.content).toBe("ok");
    } finally {
      await guarded.close();
    }
  });

  it("frees the generation when the client goes away", async () => {
    const slow = new ScriptedEngine([enc("a ".repeat(200))], 4096, 5);
    const s = await startTestServer(slow);
    try {
      const stream = await s.client.chat.completions.create({
        model: "gymrl-test",
        messages: [{ role: "user", content: "x" }],
        stream: true,
      });
      let n = 0;
      // Leaving the loop early aborts the SDK's request, closing the connection.
      for await (const _ of stream) if (++n === 3) break;
      await new Promise((r) => setTimeout(r, 100));
      // The engine saw the abort and stopped long before its 200-token script ran out.
      expect(slow.requests).toHaveLength(1);
      expect(slow.lastFinish).toBe("abort");
    } finally {
      await s.close();
    }
  });
});
