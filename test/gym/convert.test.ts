/** Model proxy conversions, pure functions: Responses ⇄ Chat, token flags, token-bundle sources, stickiness. */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { HttpError } from "../../src/gym/index.ts";
import { chatCompletion, type ResponseCreateParams } from "../../src/gym/protocol/index.ts";
import { PolicyBackends } from "../../src/gym/servers/vllm-model/backend.ts";
import { vllmModelConfig } from "../../src/gym/servers/vllm-model/config.ts";
import { buildResponse, chatToOutputItems, chatUsageToResponses } from "../../src/gym/servers/vllm-model/from-chat.ts";
import { splitThink, wrapThink } from "../../src/gym/servers/vllm-model/reasoning.ts";
import { shapeChatRequest } from "../../src/gym/servers/vllm-model/shape.ts";
import { responsesToChatParams } from "../../src/gym/servers/vllm-model/to-chat.ts";
import { extractTokenBundle, TokenBundleError, withBundleOnMessage } from "../../src/gym/servers/vllm-model/token-bundle.ts";
import { completion } from "./helpers/scripted-policy.ts";

const TRAIN = { returnTokenIdInformation: true, usesReasoningParser: true };
const bundle = (p: number[], g: number[]) => ({ prompt_token_ids: p, generation_token_ids: g, generation_log_probs: g.map(() => -0.5) });

describe("Responses → Chat Completions", () => {
  test("string input is one user message; params mapped; no tools drops tool_choice", () => {
    const chat = responsesToChatParams({ input: "hi", max_output_tokens: 64, temperature: 0.7, top_p: 0.9, reasoning: { effort: "low" }, tool_choice: "auto", parallel_tool_calls: false }, TRAIN);
    expect(chat).toEqual({ messages: [{ role: "user", content: "hi" }], max_tokens: 64, temperature: 0.7, top_p: 0.9, reasoning_effort: "low" });
  });

  test("consecutive model items become one assistant message carrying the last bundle", () => {
    const params: ResponseCreateParams = {
      instructions: "Be brief.",
      input: [
        { role: "developer", content: "You help." },
        { role: "user", content: "weather in sf and nyc?" },
        { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "two calls" }] },
        { type: "function_call", call_id: "c1", name: "get_weather", arguments: '{"city":"sf"}' },
        { type: "function_call", call_id: "c2", name: "get_weather", arguments: '{"city":"nyc"}', ...bundle([1, 2], [3, 4]) },
        { type: "function_call_output", call_id: "c1", output: "cold" },
        { type: "function_call_output", call_id: "c2", output: [{ type: "input_text", text: "warm" }] },
        { type: "message", role: "assistant", content: [{ type: "output_text", text: "<think>done</think>SF cold, NYC warm." }], ...bundle([1, 2, 3, 4, 5], [6]) },
        { role: "user", content: "thanks" },
      ],
      tools: [{ type: "function", name: "get_weather", description: "d", parameters: { type: "object" }, strict: true }],
      tool_choice: { type: "function", name: "get_weather" },
    };
    const chat = responsesToChatParams(params, TRAIN);
    expect(chat.messages).toEqual([
      { role: "system", content: "Be brief.\n\nYou help." },
      { role: "user", content: "weather in sf and nyc?" },
      {
        role: "assistant",
        content: "",
        reasoning_content: "two calls",
        tool_calls: [
          { id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"sf"}' } },
          { id: "c2", type: "function", function: { name: "get_weather", arguments: '{"city":"nyc"}' } },
        ],
        ...bundle([1, 2], [3, 4]),
      },
      { role: "tool", tool_call_id: "c1", content: "cold" },
      { role: "tool", tool_call_id: "c2", content: "warm" },
      { role: "assistant", content: "SF cold, NYC warm.", reasoning_content: "done", ...bundle([1, 2, 3, 4, 5], [6]) },
      { role: "user", content: "thanks" },
    ]);
    expect(chat.tools).toEqual([{ type: "function", function: { name: "get_weather", description: "d", parameters: { type: "object" } } }]);
    expect(chat.tool_choice).toEqual({ type: "function", function: { name: "get_weather" } });
  });

  test("without the reasoning parser, reasoning stays inline; without token info, no bundle", () => {
    const chat = responsesToChatParams(
      { input: [{ type: "reasoning", summary: [{ type: "summary_text", text: "r" }], ...bundle([1], [2]) }, { type: "message", role: "assistant", content: "a" }] },
      { returnTokenIdInformation: false, usesReasoningParser: false },
    );
    expect(chat.messages).toEqual([{ role: "assistant", content: "<think>r</think>a" }]);
  });

  test("errors are 400s: required tool_choice without tools, unknown item types, partial bundles", () => {
    expect(() => responsesToChatParams({ input: "x", tool_choice: "required" }, TRAIN)).toThrow(HttpError);
    expect(() => responsesToChatParams({ input: [{ type: "web_search_call", id: "w" }] }, TRAIN)).toThrow(/web_search_call/);
    expect(() => responsesToChatParams({ input: [{ type: "function_call", call_id: "c", name: "n", arguments: "{}", prompt_token_ids: [1] }] }, TRAIN)).toThrow(/token fields must come together/);
  });
});

describe("Chat Completions → Responses", () => {
  test("reasoning, text and tool calls become items; the bundle goes on the last item", async () => {
    const c = chatCompletion.parse(completion({ reasoning: "think", content: "calling", toolCalls: [{ id: "call_a", name: "f", arguments: "{}" }], prompt: [1, 2], generation: [3, 4, 5] }));
    const b = await extractTokenBundle(c, () => Promise.reject(new Error("no tokenize")));
    const items = chatToOutputItems(c, b);
    expect(items.map((i) => i.type)).toEqual(["reasoning", "message", "function_call"]);
    expect(items[0]).toMatchObject({ summary: [{ type: "summary_text", text: "think" }] });
    expect(items[1]).toMatchObject({ role: "assistant", content: [{ type: "output_text", text: "calling", annotations: [] }] });
    expect(items[2]).toMatchObject({ call_id: "call_a", id: "call_a", name: "f", arguments: "{}", status: "completed", ...bundle([1, 2], [3, 4, 5]), generation_log_probs: [-0.003, -0.004, -0.005] });
    expect("prompt_token_ids" in items[0] || "prompt_token_ids" in items[1]).toBe(false);
  });

  test("an empty completion still yields one (empty) assistant message; length → incomplete", () => {
    const c = chatCompletion.parse({ choices: [{ message: { role: "assistant", content: "" }, finish_reason: "length" }] });
    const items = chatToOutputItems(c);
    expect(items).toHaveLength(1);
    const r = buildResponse({ input: "x" }, "m", items, "length", chatUsageToResponses(undefined));
    expect(r.status).toBe("incomplete");
    expect(r.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(r.id).toMatch(/^resp_/);
  });

  test("splitThink / wrapThink round trip (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.string().filter((s) => !s.includes("<think>") && !s.includes("</think>")), { maxLength: 3 }), fc.string().filter((s) => !s.includes("<") && !/^\s/.test(s)), (reasoning, rest) => {
        expect(splitThink(reasoning.map(wrapThink).join("") + rest)).toEqual({ reasoning, rest });
      }),
    );
  });
});

describe("token bundle sources (NeMo Gym PR #1558 order)", () => {
  const base = { choices: [{ message: { role: "assistant", content: "x" }, finish_reason: "stop" }] };
  const lp = (ids: number[]) => ({ content: ids.map((i) => ({ token: `token_id:${i}`, logprob: -i })) });
  const noTokenize = () => Promise.reject(new Error("should not tokenize"));

  test("1. a bundle on the message wins", async () => {
    const c = chatCompletion.parse({ ...base, choices: [{ ...base.choices[0], message: { role: "assistant", content: "x", ...bundle([1], [2]) } }] });
    expect((await extractTokenBundle(c, noTokenize)).generationTokenIds).toEqual([2]);
  });

  test("2. top-level prompt_token_ids + choice.token_ids with logprobs", async () => {
    const c = chatCompletion.parse({ prompt_token_ids: [7, 8], choices: [{ ...base.choices[0], token_ids: [3, 4], logprobs: lp([3, 4]) }] });
    expect(await extractTokenBundle(c, noTokenize)).toEqual({ promptTokenIds: [7, 8], generationTokenIds: [3, 4], generationLogProbs: [-3, -4] });
    const stripped = withBundleOnMessage(c, await extractTokenBundle(c, noTokenize));
    expect("prompt_token_ids" in stripped).toBe(false);
    expect(stripped.choices[0]).not.toHaveProperty("token_ids");
    expect(stripped.choices[0].message.generation_token_ids).toEqual([3, 4]);
  });

  test("3. token_id:<n> logprobs + /tokenize for the prompt", async () => {
    const c = chatCompletion.parse({ ...base, choices: [{ ...base.choices[0], logprobs: lp([5, 6]) }] });
    expect(await extractTokenBundle(c, async () => [1, 2, 3])).toEqual({ promptTokenIds: [1, 2, 3], generationTokenIds: [5, 6], generationLogProbs: [-5, -6] });
  });

  test("partial or contradictory sources are errors", async () => {
    const partial = chatCompletion.parse({ ...base, choices: [{ ...base.choices[0], message: { role: "assistant", content: "x", prompt_token_ids: [1] } }] });
    await expect(extractTokenBundle(partial, noTokenize)).rejects.toThrow(TokenBundleError);
    const disagree = chatCompletion.parse({ prompt_token_ids: [1], choices: [{ ...base.choices[0], token_ids: [3], logprobs: lp([4]) }] });
    await expect(extractTokenBundle(disagree, noTokenize)).rejects.toThrow(/disagree/);
    const none = chatCompletion.parse(base);
    await expect(extractTokenBundle(none, noTokenize)).rejects.toThrow(/no token ids/);
  });
});

describe("request shaping and replicas", () => {
  const cfg = vllmModelConfig.parse({ base_url: "http://x/v1", model: "policy", return_token_id_information: true, request_prompt_and_generation_token_ids: true, extra_body: { seed: 1, top_k: 5 }, sampling_overrides: { temperature: 1.0 }, chat_template_kwargs: { enable_thinking: false } });

  test("token flags, forced model, extra_body under the request, sampling_overrides last, metadata side channels", () => {
    const out = shapeChatRequest({ messages: [], temperature: 0.2, top_k: 9, model: "caller" }, cfg, { extra_body: '{"seed": 3}', chat_template_kwargs: '{"x": 1}' });
    expect(out).toMatchObject({ model: "policy", logprobs: true, top_logprobs: 0, return_tokens_as_token_ids: true, return_token_ids: true, seed: 3, top_k: 9, temperature: 1.0, chat_template_kwargs: { enable_thinking: false, x: 1 } });
    expect(() => shapeChatRequest({ messages: [], n: 2 }, cfg)).toThrow(/n must be 1/);
    expect(() => shapeChatRequest({ messages: [] }, cfg, { extra_body: "not json" })).toThrow(HttpError);
  });

  test("a session sticks to one base_url; sessions spread over replicas", () => {
    const b = new PolicyBackends(["http://a/v1", "http://b/v1", "http://c/v1/"], undefined);
    expect(b.pick("s-1")).toBe(b.pick("s-1"));
    const used = new Set(Array.from({ length: 60 }, (_, i) => b.pick(`session-${i}`)));
    expect(used).toEqual(new Set(["http://a/v1", "http://b/v1", "http://c/v1"]));
  });
});
