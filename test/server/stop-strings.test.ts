/**
 * Stop strings end the token fields where they end the text. The embedded engine's worker keeps
 * stepping until the server's abort lands, so the engine here does the same on purpose: it emits
 * `lag` more tokens after the abort. None of them may reach generation_token_ids, the logprobs or
 * the stream; the ids must end with the token that completed the stop string, as vLLM's do.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GenerateOptions, GenerateRequest, GenerateResult, GenerationEngine } from "../../src/engine/types.ts";
import { loadQwen3Tokenizer } from "../../src/tokenizer/index.ts";
import { QWEN_EOS, startTestServer, type RunningServer } from "../support/openai-server.ts";

const tok = loadQwen3Tokenizer();
const enc = (s: string) => tok.encode(s, { allowSpecial: true });
/** One token per character: a stop string then completes on a known token. */
const perChar = (s: string) => [...s].flatMap((ch) => enc(ch));

/** Emits its script; an abort is noticed only `lag` tokens later, as by a worker thread. */
class LaggyEngine implements GenerationEngine {
  readonly maxModelLen = 4096;
  readonly policyVersion = 0;
  readonly script: number[][] = [];
  constructor(private readonly lag: number) {}

  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    const planned = this.script.shift() ?? [];
    const ids: number[] = [];
    const lps: number[] = [];
    let abortedAt = -1;
    let finishReason: GenerateResult["finishReason"] = "length";
    for (const tokenId of planned) {
      if (ids.length >= request.maxTokens) break;
      if (options.signal?.aborted && abortedAt < 0) abortedAt = ids.length;
      if (abortedAt >= 0 && ids.length - abortedAt >= this.lag) {
        finishReason = "abort";
        break;
      }
      await new Promise((r) => setImmediate(r)); // a step: the handler's callbacks interleave
      const logprob = -0.1 * (ids.length + 1); // distinct per position, so a shifted list shows
      ids.push(tokenId);
      lps.push(logprob);
      options.onToken?.({ tokenId, logprob, top: [{ tokenId, logprob }] });
      if (request.stopTokenIds.includes(tokenId)) {
        finishReason = "stop";
        break;
      }
    }
    return {
      promptTokenIds: [...request.promptTokenIds],
      generationTokenIds: ids,
      generationLogProbs: lps,
      topLogprobs: ids.map((tokenId, i) => [{ tokenId, logprob: lps[i] }]),
      finishReason: options.signal?.aborted ? "abort" : finishReason,
      policyVersion: 0,
      policyVersions: [0],
    };
  }

  async close(): Promise<void> {}
}

interface TokenMessage {
  content: string | null;
  generation_token_ids: number[];
  generation_log_probs: number[];
}

let engine: LaggyEngine;
let srv: RunningServer;
beforeAll(async () => {
  engine = new LaggyEngine(4);
  srv = await startTestServer(engine);
});
afterAll(() => srv.close());

const expectedLogprobs = (n: number) => Array.from({ length: n }, (_, i) => -0.1 * (i + 1));
const messages = [{ role: "user" as const, content: "Count" }];

describe("stop strings cut the token fields after the token that completed them", () => {
  it("chat: ids and logprobs end with the stop string's last token; the text stops before it", async () => {
    const through = enc("one two three");
    engine.script.push([...enc("one two three four five six seven"), QWEN_EOS]);
    const r = await srv.client.chat.completions.create({ model: "gymrl-test", messages, stop: [" three"], logprobs: true, top_logprobs: 1 });
    const choice = r.choices[0];
    const m = choice.message as unknown as TokenMessage;
    expect(m.content).toBe("one two");
    expect(choice.finish_reason).toBe("stop");
    expect((choice as unknown as { stop_reason: unknown }).stop_reason).toBe(" three");
    expect(m.generation_token_ids).toEqual(through);
    expect(tok.decode(m.generation_token_ids).endsWith(" three")).toBe(true);
    expect(m.generation_log_probs).toEqual(expectedLogprobs(through.length).map((x) => expect.closeTo(x, 12)));
    expect(choice.logprobs!.content).toHaveLength(through.length);
    expect(r.usage!.completion_tokens).toBe(through.length);
  });

  it("chat: a stop string completed inside a token keeps that token and nothing after it", async () => {
    const gen = enc("alpha beta gamma delta epsilon zeta");
    engine.script.push([...gen, QWEN_EOS]);
    const r = await srv.client.chat.completions.create({ model: "gymrl-test", messages, stop: ["ta gam"], logprobs: true });
    const m = r.choices[0].message as unknown as TokenMessage;
    expect(m.content).toBe("alpha be");
    const ids = m.generation_token_ids;
    expect(tok.decode(ids)).toContain("ta gam");
    expect(tok.decode(ids.slice(0, -1))).not.toContain("ta gam");
    expect(ids).toEqual(gen.slice(0, ids.length));
    expect(m.generation_log_probs).toHaveLength(ids.length);
  });

  it("honours include_stop_str_in_output (vLLM's extra param)", async () => {
    engine.script.push([...enc("one two three four five six"), QWEN_EOS]);
    const r = await srv.client.chat.completions.create({
      model: "gymrl-test",
      messages,
      stop: " three",
      logprobs: true,
      include_stop_str_in_output: true,
    } as never);
    const m = r.choices[0].message as unknown as TokenMessage;
    expect(m.content).toBe("one two three");
    expect(m.generation_token_ids).toEqual(enc("one two three"));
  });

  it("streaming: no text past the stop, and the final chunk's token fields are cut", async () => {
    // Per-character tokens: "X" is streamable text until "Y" turns it into the stop string "XY".
    const gen = perChar("ab XYcd efgh");
    engine.script.push([...gen, QWEN_EOS]);
    const stream = await srv.client.chat.completions.create({ model: "gymrl-test", messages, stop: ["XY"], logprobs: true, stream: true });
    let content = "";
    let last: Record<string, unknown> = {};
    for await (const c of stream) {
      content += c.choices[0]?.delta.content ?? "";
      if (c.choices[0]?.finish_reason) last = c.choices[0] as unknown as Record<string, unknown>;
    }
    expect(content).toBe("ab ");
    expect(last.finish_reason).toBe("stop");
    const delta = last.delta as TokenMessage;
    expect(delta.generation_token_ids).toEqual(perChar("ab XY"));
    expect(delta.generation_log_probs).toHaveLength(5);
  });

  it("completions: logprobs and token_ids end at the stop", async () => {
    engine.script.push([...enc("one two three four five six"), QWEN_EOS]);
    const r = (await srv.client.completions.create({
      model: "gymrl-test",
      prompt: "Count:",
      stop: [" three"],
      logprobs: 0,
      max_tokens: 50,
      return_token_ids: true,
    } as never)) as unknown as { choices: Array<{ text: string; token_ids: number[]; logprobs: { token_logprobs: number[] }; stop_reason: unknown }> };
    const c = r.choices[0];
    expect(c.text).toBe("one two");
    expect(c.token_ids).toEqual(enc("one two three"));
    expect(c.logprobs.token_logprobs).toHaveLength(enc("one two three").length);
    expect(c.stop_reason).toBe(" three");
  });

  it("stops on a request's stop_token_ids, reports it as stop_reason, and EOS as null (vLLM)", async () => {
    const stopId = enc(".")[0];
    engine.script.push([...enc("Done. More"), QWEN_EOS], [...enc("Done"), QWEN_EOS]);
    const a = await srv.client.chat.completions.create({ model: "gymrl-test", messages, stop_token_ids: [stopId] } as never);
    expect((a.choices[0] as unknown as { stop_reason: unknown }).stop_reason).toBe(stopId);
    expect(a.choices[0].message.content).toBe("Done");
    const b = await srv.client.chat.completions.create({ model: "gymrl-test", messages });
    expect((b.choices[0] as unknown as { stop_reason: unknown }).stop_reason).toBeNull();
  });
});
