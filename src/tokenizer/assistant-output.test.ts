import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAssistantOutput } from "./assistant-output.ts";
import { renderChat } from "./chat-template.ts";
import { loadQwen3Tokenizer } from "./load.ts";
import { pyJsonDumps } from "./py-json.ts";
import type { ChatMessage, ChatToolCall } from "./types.ts";

const tok = loadQwen3Tokenizer();
const USER: ChatMessage = { role: "user", content: "q" };
const HEADER = "<|im_start|>assistant\n";
const FOOTER = "<|im_end|>\n";

/** The text the template writes for `m` as the last turn: what the model would have generated. */
function renderTurn(m: ChatMessage): string {
  const prompt = renderChat(tok, { messages: [USER, m] });
  const start = prompt.lastIndexOf(HEADER) + HEADER.length;
  expect(prompt.endsWith(FOOTER)).toBe(true);
  return prompt.slice(start, prompt.length - FOOTER.length);
}

// ------------------------------------------------------------------------------------------------
// arbitraries: assistant messages as the server would return them

const TAGS = ["<tool_call>", "</tool_call>", "<think>", "</think>", "<|im_end|>", "<|im_start|>"];
const noTags = (s: string) => !TAGS.some((t) => s.includes(t));
/** Unicode text, often with newlines and JSON-ish characters; no marker text (Hermes cannot carry it). */
const char = fc.oneof(fc.string({ unit: "binary", maxLength: 1 }), fc.constantFrom("\n", " ", '"', "\\", "{", "é", "😀", "<"));
const text = fc.string({ unit: char, maxLength: 16 }).filter(noTags);
const noEdgeNewlines = (s: string) => !s.startsWith("\n") && !s.endsWith("\n");

const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.boolean(),
    fc.constant(null),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
    text,
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(text, tie("value"), { maxKeys: 3 }),
  ),
})).value;
const argsObject = fc.dictionary(text, jsonValue, { maxKeys: 4 }); // includes {} (empty arguments)

const toolCall: fc.Arbitrary<ChatToolCall> = fc
  .record({ name: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,11}$/), args: argsObject })
  .map(({ name, args }) => ({ id: "call_x", type: "function", function: { name, arguments: pyJsonDumps(args) } }));

/** Messages the Qwen3 template renders without losing anything: no newlines at the edges. */
const canonicalAssistant: fc.Arbitrary<ChatMessage> = fc
  .record({
    reasoning: text.filter(noEdgeNewlines),
    content: fc.option(text.filter((s) => s !== "" && noEdgeNewlines(s)), { nil: null }),
    calls: fc.array(toolCall, { maxLength: 3 }),
  })
  .map(({ reasoning, content, calls }) => {
    const m: ChatMessage = { role: "assistant", content, reasoning_content: reasoning };
    if (calls.length) m.tool_calls = calls;
    return m;
  });

const sameIds = { makeId: () => "call_x" };
const argsOf = (m: ChatMessage) => (m.tool_calls ?? []).map((c) => [c.function.name, JSON.parse(c.function.arguments)]);

// ------------------------------------------------------------------------------------------------

describe("parseAssistantOutput", () => {
  it("reads the NeMo RL fixture's generated turn as vLLM does", () => {
    const generated =
      "Let me compute this step by step.\n<tool_call>\n" +
      '{"name": "calculator", "arguments": {"expr": "315 * 3"}}\n</tool_call>';
    const out = parseAssistantOutput(generated, sameIds);
    const call = { id: "call_x", type: "function", function: { name: "calculator", arguments: '{"expr": "315 * 3"}' } };
    expect(out.message).toEqual({ role: "assistant", content: "Let me compute this step by step.\n", tool_calls: [call] });
    expect(out.reasoning).toBe("none");
    const canonical = parseAssistantOutput(generated, { ...sameIds, style: "canonical" });
    expect(canonical.message.content).toBe("Let me compute this step by step.");
  });

  it("splits reasoning before looking for tool calls, and flags malformed blocks", () => {
    const text = "<think>\nhmm\n</think>\n\n<tool_call>\nnot json\n</tool_call>";
    const out = parseAssistantOutput(text, { style: "canonical" });
    expect(out.reasoning).toBe("complete");
    expect(out.message.reasoning_content).toBe("hmm");
    expect(out.message.content).toBe("<tool_call>\nnot json\n</tool_call>");
    expect(out.message.tool_calls).toBeUndefined();
    expect(out.malformedToolCalls.map((m) => m.reason)).toEqual(["invalid_json"]);
  });

  it("an output stopped inside <think> is all reasoning", () => {
    const out = parseAssistantOutput("<think>\nstill going");
    expect(out.reasoning).toBe("unterminated");
    expect(out.message).toEqual({ role: "assistant", content: null, reasoning_content: "\nstill going" });
  });

  it("property (canonical): parse(render(m)) === m, with booleans, nested objects, unicode and empty arguments", () => {
    fc.assert(
      fc.property(canonicalAssistant, (m) => {
        const generated = renderTurn(m);
        const out = parseAssistantOutput(generated, { ...sameIds, style: "canonical" });
        expect(out.malformedToolCalls).toEqual([]);
        expect(out.message).toEqual(m);
        expect(renderTurn(out.message)).toBe(generated); // and rendering the parse gives the text back
      }),
      { numRuns: 200 },
    );
  });

  it("property (vllm): tool calls round-trip; reasoning and content match up to template newlines", () => {
    fc.assert(
      fc.property(canonicalAssistant, (m) => {
        const out = parseAssistantOutput(renderTurn(m), sameIds);
        expect(out.message.tool_calls ?? []).toEqual(m.tool_calls ?? []);
        expect(argsOf(out.message)).toEqual(argsOf(m));
        expect(out.message.reasoning_content).toBe(`\n${m.reasoning_content}\n`);
        const content = out.message.content as string | null;
        expect(content?.replace(/^\n+/, "").replace(/\n$/, "") || null).toBe(m.content);
      }),
      { numRuns: 200 },
    );
  });
});
