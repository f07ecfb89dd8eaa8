import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import fc from "fast-check";
import { countConversions, gymResultToSamples, TrajectoryError, type GymRunResult } from "./trajectory.ts";
import type { VerifyResponse } from "../gym/protocol/index.ts";

// Qwen3 ids: <|im_start|> 151644, <|im_end|> 151645 (EOS), "\n" 198, user 872, assistant 77091,
// <tool_call> 151657, </tool_call> 151658, <tool_response> 151665, </tool_response> 151666.
const IM_START = 151644;
const EOS = 151645;
const NL = 198;
const TOOL_CALL = [151657, 4913, 606, 151658, EOS];
const TOOL_TURN = [NL, IM_START, 872, NL, 151665, 1, 2, 3, 151666, EOS, NL, IM_START, 77091, NL];
const ANSWER = [785, 4226, 374, EOS];

/**
 * NeMo RL's Gym sanity fixture: two rollouts of the example_multi_step agent on Qwen3. expected_output
 * keeps the message_log shape (user, assistant, user, assistant) and the first prompt's exact ids
 * (later ids blanked as non-reproducible), but no Gym response; the responses below are built around
 * those real first prompts.
 */
const fixture = JSON.parse(
  readFileSync(new URL("../../test/fixtures/nemo-rl/nemo_gym_sanity_qwen3.json", import.meta.url), "utf8"),
) as {
  input: { agent_ref: { type: string; name: string } }[];
  expected_output: { message_log: { role: string; token_ids: number[] }[] }[];
};

const lp = (n: number, base = -0.1): number[] => Array.from({ length: n }, (_, i) => base - i * 0.01);

/** tool call, tool output, final answer: the example_multi_step shape, as a Responses output list. */
function twoCallResult(p0: number[], overrides: Partial<GymRunResult> = {}, secondPrompt?: number[]): GymRunResult {
  const p1 = secondPrompt ?? [...p0, ...TOOL_CALL, ...TOOL_TURN];
  return {
    response: {
      output: [
        { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "look it up" }] },
        {
          type: "function_call",
          name: "get_synonym_value",
          arguments: '{"synonym":"Arid"}',
          call_id: "call_1",
          prompt_token_ids: p0,
          generation_token_ids: TOOL_CALL,
          generation_log_probs: lp(TOOL_CALL.length),
        },
        { type: "function_call_output", call_id: "call_1", output: '{"synonym_value": 299}' },
        {
          type: "message",
          role: "assistant",
          content: [{ type: "output_text", text: "[299]" }],
          prompt_token_ids: p1,
          generation_token_ids: ANSWER,
          generation_log_probs: lp(ANSWER.length, -0.5),
        },
      ],
      status: "completed",
    },
    reward: 1,
    agent_ref: { type: "responses_api_agents", name: "example_multi_step_simple_agent" },
    _ng_task_index: 3,
    _ng_rollout_index: 1,
    ...overrides,
  };
}

describe("gymResultToSamples: a normal multi-step rollout", () => {
  test.each([0, 1])("fixture rollout %i: alternating spans, first prompt reproduced exactly", (row) => {
    const expected = fixture.expected_output[row].message_log;
    const p0 = expected[0].token_ids;
    const conv = gymResultToSamples(twoCallResult(p0, { agent_ref: fixture.input[row].agent_ref }));
    expect(conv.outcome).toBe("ok");
    expect(conv.samples).toHaveLength(1);
    const s = conv.samples[0];

    // NeMo RL's message_log: user = context span, assistant = generation span, in the same order.
    expect(s.spans.map((sp) => sp.kind)).toEqual(expected.map((m) => (m.role === "user" ? "context" : "generation")));
    expect(Array.from(s.tokens.subarray(s.spans[0].start, s.spans[0].end))).toEqual(p0);
    expect(s.promptLength).toBe([3080, 3048][row]); // NeMo test_run_async_nemo_gym_rollout: length=[3080, 3048]
    expect(s.turns).toBe(2);
    expect(s.agentRef).toEqual(fixture.input[row].agent_ref);

    // The concatenation is exactly the last call's prompt + generation; nothing re-tokenized.
    expect(Array.from(s.tokens)).toEqual([...p0, ...TOOL_CALL, ...TOOL_TURN, ...ANSWER]);
    const mask = [...p0.map(() => 0), ...TOOL_CALL.map(() => 1), ...TOOL_TURN.map(() => 0), ...ANSWER.map(() => 1)];
    expect(Array.from(s.lossMask)).toEqual(mask);
    // The "\n" after the generated EOS belongs to the template, so it is context, not trained.
    expect(s.tokens[p0.length + TOOL_CALL.length]).toBe(NL);
    expect(s.lossMask[p0.length + TOOL_CALL.length]).toBe(0);
    expect(Array.from(s.generationLogprobs)).toEqual([
      ...p0.map(() => 0),
      ...lp(TOOL_CALL.length),
      ...TOOL_TURN.map(() => 0),
      ...lp(ANSWER.length, -0.5),
    ]);
  });

  test("reward, components, indices and flags come through", () => {
    const conv = gymResultToSamples(
      twoCallResult([IM_START, 872, NL, 5, EOS, NL, IM_START, 77091, NL], {
        reward: 0.75,
        reward_components: { correctness: 0.5, format: 0.25 },
        instance_config: { mask_sample: true },
      }),
    );
    const s = conv.samples[0];
    expect(s.reward).toBe(0.75);
    expect(s.rewardComponents).toEqual({ correctness: 0.5, format: 0.25 });
    expect([s.taskIndex, s.rolloutIndex, s.segment, s.truncated, s.maskSample]).toEqual([3, 1, 0, false, true]);
    expect(s.contiguityBreaks).toEqual([]);
    expect(s.noTrainableTokens).toBeNull();
  });

  test("a VerifyResponse from gym/protocol is accepted as it is", () => {
    const v = { ...twoCallResult([1, 2, 3]), responses_create_params: { input: "hi" } } as unknown as VerifyResponse;
    expect(gymResultToSamples(v).samples[0].turns).toBe(2);
  });
});

describe("gymResultToSamples: a broken prefix", () => {
  const p0 = [IM_START, 872, NL, 40, 41, EOS, NL, IM_START, 77091, NL];
  // The agent re-tokenized the tool call: 4913 + 606 came back merged as 99999.
  const retokenized = [...p0, 151657, 99999, 151658, EOS, ...TOOL_TURN];
  const broken = (): GymRunResult => twoCallResult(p0, {}, retokenized);
  const at = p0.length + 1;

  test("split (default): reported with the first differing position; the next call starts a new sample", () => {
    const conv = gymResultToSamples(broken());
    expect(conv.outcome).toBe("split");
    expect(conv.breaks).toEqual([{ call: 1, position: at, expected: 4913, got: 99999 }]);
    expect(conv.samples).toHaveLength(2);
    const [a, b] = conv.samples;
    expect(Array.from(a.tokens)).toEqual([...p0, ...TOOL_CALL]);
    expect([a.segment, a.turns]).toEqual([0, 1]);
    // the new sample starts fresh from that call's whole prompt, all of it context
    expect(Array.from(b.tokens)).toEqual([...retokenized, ...ANSWER]);
    expect(Array.from(b.lossMask)).toEqual([...retokenized.map(() => 0), ...ANSWER.map(() => 1)]);
    expect([b.segment, b.turns, b.promptLength, b.reward]).toEqual([1, 1, retokenized.length, 1]);
    expect(b.contiguityBreaks).toEqual(conv.breaks);
  });

  test("drop: the rollout yields no samples, and still reports the break", () => {
    const conv = gymResultToSamples(broken(), { onPrefixBreak: "drop" });
    expect(conv.outcome).toBe("dropped");
    expect(conv.samples).toEqual([]);
    expect(conv.message).toMatch(/position 11: held 4913, the prompt has 99999/);
  });

  test("fail: a typed error carrying the break", () => {
    let err: unknown;
    try {
      gymResultToSamples(broken(), { onPrefixBreak: "fail" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TrajectoryError);
    expect((err as TrajectoryError).code).toBe("prefix_break");
    expect((err as TrajectoryError).contiguityBreak).toEqual({ call: 1, position: at, expected: 4913, got: 99999 });
  });

  test("history cut short by the agent: the prompt ends before the held tokens do (got null)", () => {
    const conv = gymResultToSamples(twoCallResult(p0, {}, p0.slice(0, 4)));
    expect(conv.breaks).toEqual([{ call: 1, position: 4, expected: p0[4], got: null }]);
  });

  test("counted, never silent", () => {
    const counts = countConversions([gymResultToSamples(broken()), gymResultToSamples(broken(), { onPrefixBreak: "drop" }), gymResultToSamples(twoCallResult(p0))]);
    expect(counts).toMatchObject({ rollouts: 3, samples: 3, prefixBreaks: 2, brokenRollouts: 2, splitRollouts: 1, droppedRollouts: 1 });
  });
});

describe("gymResultToSamples: nothing to train on", () => {
  const overflow: GymRunResult = {
    response: {
      output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text: "" }] }],
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
    },
    reward: 0,
  };

  test("empty generation on context overflow: one flagged sample with no trainable tokens", () => {
    const conv = gymResultToSamples(overflow);
    expect(conv.outcome).toBe("no_trainable_tokens");
    expect(conv.samples).toHaveLength(1);
    const s = conv.samples[0];
    expect(s.noTrainableTokens).toBe("prompt_exceeds_max_model_len");
    expect(s.tokens.length).toBe(0);
    expect(s.truncated).toBe(true);
    expect(s.reward).toBe(0); // still counts in its group's baseline
    expect(conv.message).toMatch(/max_model_len/);
    expect(countConversions([conv]).noTrainableTokens.prompt_exceeds_max_model_len).toBe(1);
    expect(() => gymResultToSamples(overflow, { onNoTrainableTokens: "fail" })).toThrow(TrajectoryError);
  });

  test("an empty generation with a known prompt keeps the prompt as context", () => {
    const withPrompt: GymRunResult = {
      ...overflow,
      response: { ...overflow.response, output: [{ type: "message", role: "assistant", content: "", prompt_token_ids: [1, 2, 3], generation_token_ids: [], generation_log_probs: [] }] },
    };
    const conv = gymResultToSamples(withPrompt);
    expect(Array.from(conv.samples[0].tokens)).toEqual([1, 2, 3]);
    expect(Array.from(conv.samples[0].lossMask)).toEqual([0, 0, 0]);
    expect(conv.emptyGenerationCalls).toBe(1);
  });

  test("completed with only reasoning / tool-call items and empty generations vs no token fields at all", () => {
    const onlyTools: GymRunResult = {
      response: {
        status: "completed",
        output: [
          { type: "reasoning", summary: [] },
          { type: "function_call", name: "f", arguments: "{}", call_id: "c", prompt_token_ids: [1, 2], generation_token_ids: [], generation_log_probs: [] },
        ],
      },
      reward: 0,
    };
    expect(gymResultToSamples(onlyTools).samples[0].noTrainableTokens).toBe("only_untrained_items");
    const noIds: GymRunResult = { response: { status: "completed", output: [{ type: "message", role: "assistant", content: "hi" }] }, reward: 1 };
    const conv = gymResultToSamples(noIds);
    expect(conv.samples[0].noTrainableTokens).toBe("no_token_ids");
    expect(conv.message).toMatch(/return_token_id_information/);
  });
});

describe("gymResultToSamples: truncation and malformed results", () => {
  const p0 = [IM_START, 872, NL, 7, EOS, NL, IM_START, 77091, NL];

  test("incomplete with max_output_tokens is truncated; completed and content_filter are not", () => {
    const r = twoCallResult(p0);
    const truncated = { ...r, response: { ...r.response, status: "incomplete", incomplete_details: { reason: "max_output_tokens" } } };
    expect(gymResultToSamples(truncated).samples[0].truncated).toBe(true);
    expect(gymResultToSamples(r).samples[0].truncated).toBe(false);
    const filtered = { ...r, response: { ...r.response, status: "incomplete", incomplete_details: { reason: "content_filter" } } };
    expect(gymResultToSamples(filtered).samples[0].truncated).toBe(false);
    // NeMo RL's hit_max_tokens: reaching the engine's context is a truncation too
    const total = p0.length + TOOL_CALL.length + TOOL_TURN.length + ANSWER.length;
    expect(gymResultToSamples(r, { maxModelLen: total }).samples[0].truncated).toBe(true);
    expect(gymResultToSamples(r, { maxModelLen: total + 1 }).samples[0].truncated).toBe(false);
  });

  test("malformed token fields, NaN logprobs and reward mismatches are typed errors", () => {
    const r = twoCallResult(p0);
    const withItem = (item: Record<string, unknown>): GymRunResult => ({ ...r, response: { ...r.response, output: [item] } });
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        return (e as TrajectoryError).code;
      }
      return "no error";
    };
    expect(code(() => gymResultToSamples(withItem({ type: "message", prompt_token_ids: [1], generation_token_ids: [2] })))).toBe("malformed_token_fields");
    expect(code(() => gymResultToSamples(withItem({ type: "message", prompt_token_ids: [1], generation_token_ids: [2, 3], generation_log_probs: [-1] })))).toBe(
      "malformed_token_fields",
    );
    expect(code(() => gymResultToSamples(withItem({ type: "message", prompt_token_ids: [1], generation_token_ids: [2], generation_log_probs: [NaN] })))).toBe("nan_logprobs");
    expect(code(() => gymResultToSamples({ ...r, reward: 1, reward_components: { a: 0.5, b: 0.25 } }))).toBe("bad_reward");
    expect(code(() => gymResultToSamples({ ...r, reward: Number.NaN }))).toBe("bad_reward");
  });
});

describe("gymResultToSamples: properties", () => {
  const ids = fc.array(fc.integer({ min: 0, max: 151_000 }), { minLength: 1, maxLength: 6 });
  const turns = fc.array(fc.tuple(ids, ids), { minLength: 1, maxLength: 5 }); // (context delta, generation) per call

  function build(calls: [number[], number[]][]): { result: GymRunResult; prompts: number[][] } {
    const output: Record<string, unknown>[] = [];
    const prompts: number[][] = [];
    let held: number[] = [];
    for (const [delta, gen] of calls) {
      const prompt = [...held, ...delta];
      prompts.push(prompt);
      output.push({ type: "message", role: "assistant", content: "", prompt_token_ids: prompt, generation_token_ids: gen, generation_log_probs: gen.map(() => -0.3) });
      output.push({ type: "function_call_output", call_id: "c", output: "x" });
      held = [...prompt, ...gen];
    }
    return { result: { response: { output, status: "completed" }, reward: 1 }, prompts };
  }

  test("each call's prompt extends the last → one sample equal to the last prompt + generation", () => {
    fc.assert(
      fc.property(turns, (calls) => {
        const { result, prompts } = build(calls);
        const conv = gymResultToSamples(result);
        expect(conv.outcome).toBe("ok");
        const s = conv.samples[0];
        const last = calls[calls.length - 1][1];
        expect(Array.from(s.tokens)).toEqual([...prompts[prompts.length - 1], ...last]);
        const trained = calls.reduce((n, [, g]) => n + g.length, 0);
        expect(s.lossMask.reduce((a, b) => a + b, 0)).toBe(trained);
        for (let i = 0; i < s.tokens.length; i++) expect(s.generationLogprobs[i]).toBe(s.lossMask[i] ? -0.3 : 0);
      }),
      { numRuns: 150 },
    );
  });

  test("the checker can fail: changing one held token in a later prompt is a break at exactly that position", () => {
    fc.assert(
      fc.property(turns.filter((c) => c.length >= 2), fc.nat(), (calls, pick) => {
        const { result } = build(calls);
        const item = result.response.output[2] as { prompt_token_ids: number[] }; // the second call
        const heldLength = calls[0][0].length + calls[0][1].length;
        const pos = pick % heldLength;
        item.prompt_token_ids = item.prompt_token_ids.slice();
        const original = item.prompt_token_ids[pos];
        item.prompt_token_ids[pos] = original + 1;
        const conv = gymResultToSamples(result);
        expect(conv.breaks[0]).toEqual({ call: 1, position: pos, expected: original, got: original + 1 });
      }),
      { numRuns: 150 },
    );
  });
});
