/**
 * The compiled renderer against @huggingface/jinja's own interpreter: wherever it answers, it
 * answers with the library's text; where the library throws, it does not answer.
 */
import { Template } from "@huggingface/jinja";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderChat, templateContext, templateSource, type RenderChatArgs } from "./chat-template.ts";
import { ChatTemplateError } from "./errors.ts";
import { compileTemplate } from "./jinja-compile.ts";
import { PY_STRING_METHODS, pythonizeStringMethods } from "./jinja-python.ts";
import { loadQwen3Tokenizer } from "./load.ts";
import type { ChatMessage, ChatTool } from "./types.ts";

const tok = loadQwen3Tokenizer();

function parsed(source: string): Template {
  const t = new Template(source);
  pythonizeStringMethods(t.parsed);
  return t;
}

const THREW = Symbol("threw");
function interpret(t: Template, context: Record<string, unknown>): string | typeof THREW {
  try {
    return t.render(context);
  } catch {
    return THREW;
  }
}

// ------------------------------------------------------------------------------------------------
// the Qwen3 chat template

const qwen3 = parsed(templateSource(tok, {}));
const qwen3Compiled = compileTemplate(qwen3.parsed);

/** Both renders of one chat; the compiled one must answer (Qwen3 chats never need the fallback). */
function bothRenders(args: RenderChatArgs) {
  const context = templateContext(tok, args);
  return { compiled: qwen3Compiled!.render(context), library: qwen3.render(context) };
}

const sanity = JSON.parse(
  readFileSync(new URL("../../test/fixtures/nemo-rl/nemo_gym_sanity_qwen3.json", import.meta.url), "utf8"),
) as { input: { responses_create_params: { tools: Array<{ name: string; description?: string; parameters?: object }> } }[] };

const fixtureTools: ChatTool[] = sanity.input[0].responses_create_params.tools.map((t) => ({
  type: "function",
  function: { name: t.name, description: t.description, parameters: t.parameters as Record<string, unknown> },
}));

/** Text that exercises the template's string logic: think tags, tool-response wrappers, newlines. */
const text = fc
  .array(
    fc.constantFrom("a", " ", "\n", "\n\n", "é", "<think>", "</think>", "<tool_response>", "</tool_response>", "<|im_end|>", '"', "{}", "x y"),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(""));

const jsonArgs = fc.oneof(
  fc.constant(""),
  fc.dictionary(fc.constantFrom("expr", "n", "flag", "list", "nested"), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }).map((o) => JSON.stringify(o)),
  fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)),
);

const toolCall = fc.record({
  id: fc.constantFrom("call_0", "call_1"),
  type: fc.constant("function" as const),
  function: fc.record({ name: fc.constantFrom("calculate", "get_synonym_value", ""), arguments: jsonArgs }),
});

const message: fc.Arbitrary<ChatMessage> = fc.oneof(
  fc.record({ role: fc.constantFrom("system" as const, "developer" as const, "user" as const), content: fc.oneof(text, fc.constant(null)) }),
  fc.record(
    {
      role: fc.constant("assistant" as const),
      content: fc.oneof(text, fc.constant(null), fc.array(fc.record({ type: fc.constant("text" as const), text }), { maxLength: 2 })),
      reasoning_content: fc.oneof(text, fc.constant(null)),
      tool_calls: fc.array(toolCall, { maxLength: 2 }),
    },
    { requiredKeys: ["role", "content"] },
  ),
  fc.record({ role: fc.constant("tool" as const), tool_call_id: fc.constant("call_0"), content: text }),
);

const chatArgs: fc.Arbitrary<RenderChatArgs> = fc.record(
  {
    messages: fc.array(message, { minLength: 1, maxLength: 7 }),
    tools: fc.oneof(fc.constant(undefined), fc.constant([]), fc.subarray(fixtureTools, { minLength: 1 })),
    addGenerationPrompt: fc.boolean(),
    templateKwargs: fc.oneof(
      fc.constant(undefined),
      fc.record({ enable_thinking: fc.constantFrom<unknown>(true, false, "false", 0, null) }),
    ),
  },
  { requiredKeys: ["messages", "addGenerationPrompt"] },
);

describe("compiled Qwen3 chat template", () => {
  it("compiles", () => {
    expect(qwen3Compiled).not.toBeNull();
  });

  it("renders the NeMo Gym fixture's tools and a multi-turn tool chat exactly as the library", () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Synonym values of Blazing and Warm?" },
      {
        role: "assistant",
        content: "\n\n",
        reasoning_content: "Start with Blazing.",
        tool_calls: [{ id: "call_0", type: "function", function: { name: "get_synonym_value", arguments: '{"synonym": "Blazing"}' } }],
      },
      { role: "tool", tool_call_id: "call_0", content: "711" },
      { role: "assistant", content: "<think>\nnow Warm\n</think>\n\nDone.", tool_calls: [] },
      { role: "user", content: "<tool_response>\nnot a query\n</tool_response>" },
    ];
    for (const addGenerationPrompt of [true, false]) {
      for (const templateKwargs of [undefined, { enable_thinking: false }]) {
        const { compiled, library } = bothRenders({ messages, tools: fixtureTools, addGenerationPrompt, templateKwargs });
        expect(compiled).toBe(library);
      }
    }
  });

  it("property: random chats (tools, tool calls, reasoning, think tags) render exactly as the library", () => {
    fc.assert(
      fc.property(chatArgs, (args) => {
        const { compiled, library } = bothRenders(args);
        expect(compiled).toBe(library);
      }),
      { numRuns: 300 },
    );
  });

  it("renderChat gives the library's text", () => {
    const args: RenderChatArgs = { messages: [{ role: "user", content: "hi" }], tools: fixtureTools, addGenerationPrompt: true };
    expect(renderChat(tok, args)).toBe(qwen3.render(templateContext(tok, args)));
  });
});

// ------------------------------------------------------------------------------------------------
// every construct: the library's answer or none

/** Values of every kind the library converts: scalars (floats, NaN, -0), arrays, objects, nesting. */
const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom("", "a", "ab", "b", " a\n", "items", "1", "0", "x"),
    fc.integer({ min: -3, max: 3 }),
    fc.constantFrom(0.5, -1.5, 1e21, Number.NaN, -0, Number.MAX_VALUE, Infinity),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie("v"), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom("a", "b", "x", "items", "0", "get"), tie("v"), { maxKeys: 3 }),
  ),
})).v;

/** Templates over a, b, c; those after NEVER_ANSWERED always leave the render to the library. */
const CONSTRUCTS = [
  "{{ a }}|{{ b }}",
  "{{ a + b }}",
  "{{ a - b }}",
  "{{ a == b }}{{ a != b }}",
  "{{ a in b }}{{ a not in b }}",
  "{{ a < b }}{{ a > b }}{{ a <= b }}{{ a >= b }}",
  "{{ a and b }}|{{ a or b }}|{{ not a }}",
  "{{ -a }}",
  "{{ a[0] }}|{{ a[-1] }}|{{ a[b] }}",
  "{{ a.b }}|{{ a.x }}|{{ a.items }}",
  "{{ a[::-1] | tojson }}|{{ a[1:] | tojson }}|{{ a[:b] | tojson }}|{{ a[::b] | tojson }}",
  "{{ a | length }}",
  "{{ a | tojson }}",
  "{{ a | trim }}|{{ a | safe }}",
  "{{ a is defined }}{{ a is not defined }}{{ a is undefined }}{{ a is none }}{{ a is string }}{{ a is false }}{{ a is true }}",
  "{{ a is boolean }}{{ a is number }}{{ a is integer }}{{ a is mapping }}{{ a is iterable }}{{ a is sequence }}",
  "{% for x in a %}{{ loop.index0 }}:{{ x }}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex0 }}{% else %}empty{% endfor %}",
  "{% for x in a %}{{ loop.previtem }}/{{ loop.nextitem }}{{ loop.revindex }};{% endfor %}",
  "{% set ns = namespace(n=0, s=b) %}{% for x in a %}{% set ns.n = ns.n + 1 %}{% set y = x %}{% endfor %}{{ ns.n }}{{ ns.s }}{{ y is defined }}",
  "{% if a %}A{% elif b %}B{% else %}C{% endif %}",
  "{{ a.startswith(b) }}|{{ a.endswith(b) }}|{{ a.split(b) | tojson }}",
  "{{ __py_strip(a, b) }}|{{ __py_lstrip(a) }}|{{ __py_rstrip(a, '\\n') }}",
  "{% set x %}{{ a }}!{% endset %}{{ x }}",
  "{{ a if b else c }}",
];
const NEVER_ANSWERED = [
  "{{ a.upper() }}",
  "{{ a ~ b }}",
  "{{ raise_exception(a) }}",
  "{{ namespace }}",
  "{% set ns = namespace(a) %}{{ ns.a }}",
];

describe("compiled templates answer as the library or not at all", () => {
  for (const source of [...CONSTRUCTS, ...NEVER_ANSWERED]) {
    it(source, () => {
      const t = parsed(source);
      const compiled = compileTemplate(t.parsed);
      expect(compiled).not.toBeNull();
      let answered = 0;
      fc.assert(
        fc.property(value, value, value, (a, b, c) => {
          const context = { a, b, c, ...PY_STRING_METHODS };
          const library = interpret(t, context);
          const mine = compiled!.render(context);
          if (mine !== null) answered++;
          if (library === THREW) expect(mine).toBeNull();
          else if (mine !== null) expect(mine).toBe(library);
        }),
        { numRuns: 300 },
      );
      if (NEVER_ANSWERED.includes(source)) expect(answered).toBe(0);
      else expect(answered).toBeGreaterThan(0);
    });
  }

  it("a context key the library declares itself makes it throw, and the compiled render stands aside", () => {
    const t = parsed("{{ true }}");
    expect(interpret(t, { true: 1 })).toBe(THREW);
    expect(compileTemplate(t.parsed)!.render({ true: 1 })).toBeNull();
  });

  it("uncovered constructs (macros, list literals, filters with arguments) leave the template to the library", () => {
    for (const source of [
      "{% macro m(x) %}{{ x }}{% endmacro %}{{ m(1) }}",
      "{{ [1, 2] | tojson }}",
      "{{ a | tojson(indent=2) }}",
      "{% for k, v in a.items() %}{{ k }}{% endfor %}",
      "{{ 1.0 }}",
    ]) {
      expect(compileTemplate(parsed(source).parsed)).toBeNull();
    }
    // renderChat still renders such a template, through the library
    const chatTemplate = "{% macro m(x) %}[{{ x }}]{% endmacro %}{% for m2 in messages %}{{ m(m2.content) }}{% endfor %}";
    expect(renderChat(tok, { messages: [{ role: "user", content: "hi" }], chatTemplate })).toBe("[hi]");
  });

  it("errors still come from the library, as ChatTemplateError", () => {
    const chatTemplate = "{{ raise_exception('no system role') }}";
    expect(() => renderChat(tok, { messages: [{ role: "user", content: "hi" }], chatTemplate })).toThrow(ChatTemplateError);
    expect(() => renderChat(tok, { messages: [{ role: "user", content: "hi" }], chatTemplate })).toThrow(/no system role/);
  });
});
