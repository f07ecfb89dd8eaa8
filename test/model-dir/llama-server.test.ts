/**
 * The OpenAI server over a Llama 3.1 directory's chat format with a scripted engine: a generated
 * JSON tool call comes back as `tool_calls` (finish_reason "tool_calls"), streaming never leaks
 * the call's JSON as content, and the call sent back with its token ids is spliced into the next
 * prompt exactly, followed by the template's ids for the tool result.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatTokenizerFrom, outputParserFrom } from "../../src/server/tokenizer-adapter.ts";
import { loadChatFormat, type ChatFormat } from "../../src/tokenizer/index.ts";
import { writeTinyHfModel } from "../support/hf-model-dir.ts";
import { startTestServer, type RunningServer } from "../support/openai-server.ts";
import { ScriptedEngine } from "../support/scripted-engine.ts";

let format: ChatFormat;
let engine: ScriptedEngine;
let srv: RunningServer;

beforeAll(async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "gymrl-llama-server-")), "llama3");
  writeTinyHfModel(dir, "llama3");
  format = loadChatFormat(dir);
  engine = new ScriptedEngine([]);
  srv = await startTestServer(engine, {
    tokenizer: chatTokenizerFrom(format),
    parser: outputParserFrom(format.outputParser),
    stopTokenIds: format.stopTokenIds,
  });
});
afterAll(() => srv.close());

const tools = [{ type: "function" as const, function: { name: "calculate", description: "Evaluate", parameters: { type: "object", properties: { expr: { type: "string" } } } } }];
const user = { role: "user" as const, content: "What is 315 * 3?" };
const callText = '{"name": "calculate", "parameters": {"expr": "315 * 3"}}';

describe("a Llama 3.1 directory behind the OpenAI server", () => {
  it("returns a generated JSON call as tool_calls, and streams no part of it as content", async () => {
    const eot = format.turnEnd.id;
    engine.push([...format.tokenizer.encode(callText), eot]);
    const r = await srv.client.chat.completions.create({ model: "gymrl-test", messages: [user], tools, logprobs: true });
    const choice = r.choices[0];
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls!.map((c) => (c as { function: unknown }).function)).toEqual([{ name: "calculate", arguments: '{"expr": "315 * 3"}' }]);

    engine.push([...format.tokenizer.encode(callText), eot]);
    const stream = await srv.client.chat.completions.create({ model: "gymrl-test", messages: [user], tools, stream: true });
    let content = "";
    let calls = 0;
    for await (const c of stream) {
      content += c.choices[0]?.delta?.content ?? "";
      calls += c.choices[0]?.delta?.tool_calls?.length ?? 0;
    }
    expect([content, calls]).toEqual(["", 1]);

    // without tools the same text is plain content, streamed as generated
    engine.push([...format.tokenizer.encode("Hello there"), eot]);
    const plain = await srv.client.chat.completions.create({ model: "gymrl-test", messages: [user], stream: true });
    let text = "";
    for await (const c of plain) text += c.choices[0]?.delta?.content ?? "";
    expect(text).toBe("Hello there");
  });

  it("splices a tool-call turn sent back with its token ids, then the template's tool result", async () => {
    const eot = format.turnEnd.id;
    // a non-canonical split of the call: the template would tokenize it differently
    const generated = [...format.tokenizer.encode('{"name": "calculate", "parameters": {"expr": "31'), ...format.tokenizer.encode('5 * 3"}}'), eot];
    expect(generated).not.toEqual([...format.tokenizer.encode(callText), eot]);
    engine.push(generated);
    const r1 = await srv.client.chat.completions.create({ model: "gymrl-test", messages: [user], tools, logprobs: true });
    const m1 = r1.choices[0].message as unknown as { tool_calls: unknown[]; prompt_token_ids: number[]; generation_token_ids: number[] };
    expect(m1.generation_token_ids).toEqual(generated);

    engine.push([...format.tokenizer.encode("945"), eot]);
    const toolMsg = { role: "tool" as const, content: "945", tool_call_id: (m1.tool_calls[0] as { id: string }).id };
    await srv.client.chat.completions.create({ model: "gymrl-test", messages: [user, m1 as never, toolMsg], tools, logprobs: true });
    const prompt = engine.requests[engine.requests.length - 1].promptTokenIds;
    const prefix = [...m1.prompt_token_ids, ...generated];
    expect(prompt.slice(0, prefix.length)).toEqual(prefix);
    const tail = "<|start_header_id|>ipython<|end_header_id|>\n\n\"945\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    expect(prompt.slice(prefix.length)).toEqual(format.tokenizer.encode(tail));
  });
});
