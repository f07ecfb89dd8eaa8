/** The hand-checked fast path of chat request validation never disagrees with zod. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chatCompletionRequestSchema, isCommonChatRequest, parseBody, parseChatCompletionRequest } from "./wire.ts";

/** Values around each field's limits, of every JSON type. */
const anyValue = fc.oneof(
  fc.constantFrom(null, undefined, true, false, "", "x", "function", -1, 0, 0.5, 1, 1.5, 2, 2.5, 20, 21, 1e12, 2 ** 53, -0, 1e-9),
  fc.double(),
  fc.integer(),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.constantFrom(0, 1, -1, 1.5, 151645, "a", null, 2 ** 53), { maxLength: 4 }),
  fc.array(fc.constantFrom("a", "b", ""), { maxLength: 20 }),
);

/** Mostly a valid value, sometimes anything. */
const mostly = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 40 }, { arbitrary: anyValue, weight: 1 });
/** A field the fast path leaves to zod: mostly absent. */
const zodOnly = fc.oneof({ arbitrary: fc.constant(undefined), weight: 10 }, { arbitrary: anyValue, weight: 1 });

const ids = mostly(fc.array(fc.nat({ max: 151668 }), { maxLength: 40 }));

const toolCall = fc.record(
  {
    id: mostly(fc.constant("call_0")),
    type: mostly(fc.constant("function")),
    function: fc.oneof(
      fc.record({ name: mostly(fc.constant("f")), arguments: mostly(fc.constant('{"x": 1}')) }, { requiredKeys: [] }),
      fc.constant({ name: "f", arguments: "{}", extra: 1 }),
      anyValue,
    ),
  },
  { requiredKeys: [] },
);

const content = fc.oneof({ arbitrary: fc.string({ maxLength: 8 }), weight: 40 }, fc.constant(null), fc.constant([{ type: "text", text: "a" }]), anyValue);

const message = fc.oneof(
  { arbitrary: fc.record({ role: mostly(fc.constantFrom("system", "developer", "user")), content, name: mostly(fc.constant("n")) }, { requiredKeys: ["role"] }), weight: 20 },
  fc.record({ role: fc.constant("tool"), content, tool_call_id: mostly(fc.constant("call_0")) }, { requiredKeys: ["role"] }),
  {
    arbitrary: fc.record(
      {
        role: fc.constant("assistant"),
        content,
        name: mostly(fc.constant("n")),
        tool_calls: mostly(fc.array(toolCall, { maxLength: 2 })),
        reasoning_content: mostly(fc.oneof(fc.string({ maxLength: 4 }), fc.constant(null))),
        reasoning: mostly(fc.string({ maxLength: 4 })),
        prompt_token_ids: ids,
        generation_token_ids: ids,
        generation_log_probs: mostly(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -50, max: 0 }), { maxLength: 8 })),
        extra_field: anyValue,
      },
      { requiredKeys: ["role"] },
    ),
    weight: 20,
  },
  { arbitrary: anyValue, weight: 1 },
);

const body = fc.oneof(
  {
    arbitrary: fc.record(
      {
        messages: mostly(fc.array(message, { minLength: 1, maxLength: 4 })),
        model: mostly(fc.constant("m")),
        temperature: mostly(fc.constantFrom(0, 0.5, 1, 2, null)),
        top_p: mostly(fc.constantFrom(0.1, 1, null)),
        top_k: mostly(fc.constantFrom(-1, 0, 50)),
        seed: mostly(fc.integer()),
        max_tokens: mostly(fc.integer({ min: 1, max: 4096 })),
        max_completion_tokens: mostly(fc.integer({ min: 1, max: 4096 })),
        n: mostly(fc.constantFrom(1, null)),
        stop: mostly(fc.oneof(fc.string({ maxLength: 3 }), fc.array(fc.string({ maxLength: 3 }), { maxLength: 17 }))),
        stop_token_ids: ids,
        required_prefix_token_ids: ids,
        stream: mostly(fc.boolean()),
        return_token_ids: mostly(fc.boolean()),
        return_tokens_as_token_ids: mostly(fc.boolean()),
        include_stop_str_in_output: mostly(fc.boolean()),
        parallel_tool_calls: mostly(fc.boolean()),
        logprobs: mostly(fc.boolean()),
        top_logprobs: mostly(fc.integer({ min: 0, max: 21 })),
        add_generation_prompt: mostly(fc.boolean()),
        tools: zodOnly,
        tool_choice: zodOnly,
        chat_template_kwargs: zodOnly,
        stream_options: zodOnly,
        unknown_field: anyValue,
      },
      { requiredKeys: ["messages"] },
    ),
    weight: 20,
  },
  anyValue,
);

describe("chat request validation fast path", () => {
  it("property: whatever it accepts, zod accepts with the same parsed value", () => {
    let accepted = 0;
    fc.assert(
      fc.property(body, (b) => {
        if (!isCommonChatRequest(b)) return;
        accepted++;
        const z = chatCompletionRequestSchema.safeParse(b);
        expect(z.success).toBe(true);
        expect(z.data).toEqual(b);
      }),
      { numRuns: 20_000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });

  it("takes the common second-turn request, and leaves tools, content parts and errors to zod", () => {
    const second = {
      messages: [
        { role: "user", content: "What is 17 + 25?" },
        { role: "assistant", content: "42", reasoning_content: null, tool_calls: [], prompt_token_ids: [1, 2], generation_token_ids: [3, 151645], generation_log_probs: [-0.5, -0.1] },
        { role: "user", content: "Check it again." },
      ],
      max_tokens: 4,
      temperature: 0,
      logprobs: true,
      top_logprobs: 0,
    };
    expect(isCommonChatRequest(second)).toBe(true);
    expect(parseChatCompletionRequest(second)).toEqual(parseBody(chatCompletionRequestSchema, second));
    expect(isCommonChatRequest({ ...second, tools: [] })).toBe(false);
    expect(isCommonChatRequest({ messages: [{ role: "user", content: [{ type: "text", text: "a" }] }] })).toBe(false);
    const bad = { ...second, temperature: 3 };
    expect(isCommonChatRequest(bad)).toBe(false);
    expect(() => parseChatCompletionRequest(bad)).toThrow(/temperature/);
  });
});
