import { describe, expect, it } from "vitest";
import { pyJsonDumps } from "./py-json.ts";
import { makeToolCallId, parseToolCalls } from "./tool-call-parser.ts";

let n = 0;
const makeId = () => `call_${n++}`;
const block = (json: string) => `<tool_call>\n${json}\n</tool_call>`;

describe("parseToolCalls (Hermes / Qwen)", () => {
  it("turns a block into an OpenAI tool call with Python-style JSON arguments", () => {
    const text = `Let me compute this.\n${block('{"name": "calculator", "arguments": {"expr":"315 * 3","exact":true}}')}`;
    const r = parseToolCalls(text, { makeId: () => "call_a" });
    expect(r.toolCalls).toEqual([
      { id: "call_a", type: "function", function: { name: "calculator", arguments: '{"expr": "315 * 3", "exact": true}' } },
    ]);
    expect(r.content).toBe("Let me compute this.\n"); // vLLM keeps the text before <tool_call> as it is
    expect(r.malformed).toEqual([]);
  });

  it("parses several blocks and drops the blank text between them", () => {
    const text = `${block('{"name": "a", "arguments": {}}')}\n${block('{"name": "b", "arguments": {"x": [1, {"y": null}]}}')}\n`;
    const r = parseToolCalls(text, { makeId });
    expect(r.toolCalls.map((c) => [c.function.name, c.function.arguments])).toEqual([
      ["a", "{}"],
      ["b", '{"x": [1, {"y": null}]}'],
    ]);
    expect(r.content).toBeNull();
  });

  it("leaves text without blocks alone", () => {
    expect(parseToolCalls("just words\n")).toEqual({ content: "just words\n", toolCalls: [], malformed: [] });
    expect(parseToolCalls("")).toEqual({ content: null, toolCalls: [], malformed: [] });
  });

  it("keeps a malformed block in the content, flags it, and still parses the good ones", () => {
    const bad = block('{"name": "a", "arguments": {"x": 1}'); // missing a brace
    const text = `A\n${bad}\n${block('{"name": "b", "arguments": {}}')}`;
    const r = parseToolCalls(text, { makeId });
    expect(r.toolCalls.map((c) => c.function.name)).toEqual(["b"]);
    expect(r.malformed).toEqual([{ reason: "invalid_json", raw: bad, terminated: true }]);
    expect(r.content).toBe(`A\n${bad}`);
  });

  it("names each kind of malformed block", () => {
    const reasons = [
      ["[1, 2]", "not_an_object"],
      ['{"arguments": {}}', "missing_name"],
      ['{"name": "", "arguments": {}}', "missing_name"],
      ['{"name": "f"}', "missing_arguments"],
      ['{"name": "f", "arguments": "{\\"x\\": 1}"}', "arguments_not_object"],
      ['{"name": "f", "arguments": null}', "arguments_not_object"],
    ] as const;
    for (const [json, reason] of reasons) {
      const r = parseToolCalls(block(json));
      expect(r.malformed.map((m) => m.reason)).toEqual([reason]);
      expect(r.toolCalls).toEqual([]);
      expect(r.content).toBe(block(json)); // nothing parsed: the text is untouched
    }
  });

  it("accepts a block cut before </tool_call> when its JSON is complete (stop strings), flags it otherwise", () => {
    const r = parseToolCalls('x<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n', { makeId: () => "c" });
    expect(r.toolCalls).toEqual([{ id: "c", type: "function", function: { name: "f", arguments: '{"a": 1}' } }]);
    expect(r.content).toBe("x");
    const cut = parseToolCalls('x<tool_call>\n{"name": "f", "argu');
    expect(cut.toolCalls).toEqual([]);
    expect(cut.malformed).toEqual([{ reason: "invalid_json", raw: '<tool_call>\n{"name": "f", "argu', terminated: false }]);
    expect(cut.content).toBe('x<tool_call>\n{"name": "f", "argu');
  });

  it("makes call_ ids", () => {
    const id = makeToolCallId();
    expect(id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(makeToolCallId()).not.toBe(id);
  });
});

describe("pyJsonDumps (Python json.dumps, ensure_ascii=False)", () => {
  it("writes Python's separators, keeps non-ASCII, escapes like Python", () => {
    expect(pyJsonDumps({ a: [1, 2.5, true, null], b: "é😀\n\"\u0001", c: {}, d: [] })).toBe(
      '{"a": [1, 2.5, true, null], "b": "é😀\\n\\"\\u0001", "c": {}, "d": []}',
    );
  });

  it("writes floats as Python's repr", () => {
    expect([0.0001, 0.00001, 1.5e-7, -2.5e-10, 123.456, 1e21].map(pyJsonDumps)).toEqual([
      "0.0001",
      "1e-05",
      "1.5e-07",
      "-2.5e-10",
      "123.456",
      "1000000000000000000000",
    ]);
  });
});
