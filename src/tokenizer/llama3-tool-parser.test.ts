import { describe, expect, it } from "vitest";
import { parseLlama3ToolCalls } from "./llama3-tool-parser.ts";
import { llama3OutputParser } from "./output-parser.ts";

const ids = () => {
  let n = 0;
  return () => `call_${n++}`;
};

describe("parseLlama3ToolCalls (vLLM llama3_json)", () => {
  it("parses one call as the template writes it; parameters re-serialized as json.dumps", () => {
    const r = parseLlama3ToolCalls('{"name": "calculate", "parameters": {"expr":"315 * 3","n":2.5}}', { makeId: ids() });
    expect(r).toEqual({
      content: null,
      malformed: null,
      toolCalls: [{ id: "call_0", type: "function", function: { name: "calculate", arguments: '{"expr": "315 * 3", "n": 2.5}' } }],
    });
  });

  it("accepts <|python_tag|>, `arguments` instead of `parameters`, and calls separated by ';'", () => {
    const r = parseLlama3ToolCalls('<|python_tag|>{"name": "a", "arguments": {}}; {"name": "b", "parameters": {"x": [1, {"y": "}"}]}}\n', {
      makeId: ids(),
    });
    expect(r.toolCalls.map((c) => [c.function.name, c.function.arguments])).toEqual([
      ["a", "{}"],
      ["b", '{"x": [1, {"y": "}"}]}'],
    ]);
    expect(r.content).toBeNull();
  });

  it("leaves text that is not a call, or not only calls, as content with the reason", () => {
    expect(parseLlama3ToolCalls("The answer is 4.")).toEqual({ content: "The answer is 4.", toolCalls: [], malformed: null });
    expect(parseLlama3ToolCalls("")).toEqual({ content: null, toolCalls: [], malformed: null });
    const cases: [string, string][] = [
      ['{"name": "a", "parameters": {}} and some words', "invalid_json"],
      ['{"name": "a", "parameters": {', "invalid_json"],
      ['{"name": "a", "parameters": {}}; [1, 2]', "not_an_object"],
      ['{"parameters": {}}', "missing_name"],
      ['{"name": "a"}', "missing_parameters"],
      ['{"name": "a", "parameters": "x=1"}', "parameters_not_object"],
    ];
    for (const [text, reason] of cases) expect(parseLlama3ToolCalls(text)).toEqual({ content: text, toolCalls: [], malformed: reason });
    // a trailing separator is tolerated, as vLLM's raw_decode loop steps past it
    expect(parseLlama3ToolCalls('{"name": "a", "parameters": {}}; ').toolCalls).toHaveLength(1);
  });

  it("output parser: tool calls only when tools were offered; streaming holds back what may be a call", () => {
    const call = '{"name": "f", "parameters": {"a": 1}}';
    expect(llama3OutputParser.parse(call, { parseToolCalls: false, parseReasoning: true })).toEqual({ content: call, reasoningContent: null, toolCalls: [] });
    const parsed = llama3OutputParser.parse(call, { parseToolCalls: true, parseReasoning: true });
    expect(parsed.content).toBeNull();
    expect(parsed.toolCalls[0].function).toEqual({ name: "f", arguments: '{"a": 1}' });
    const prefix = llama3OutputParser.streamablePrefix!;
    expect(prefix('{"name": "f"', true)).toBe("");
    expect(prefix("  ", true)).toBe("");
    expect(prefix('{"name": "f"', false)).toBe('{"name": "f"');
    expect(prefix("Hello wor\uFFFD", true)).toBe("Hello wor");
  });
});
