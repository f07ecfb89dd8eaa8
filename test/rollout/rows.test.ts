/** Row expansion: repeat order, task/rollout stamping, dedup, agent routing, sampling params. */
import { describe, expect, test } from "vitest";
import { expandRows, RowError } from "../../src/rollout/index.ts";

const row = (q: string, extra: Record<string, unknown> = {}) => ({ responses_create_params: { input: q, max_output_tokens: 100 }, ...extra });

describe("expandRows", () => {
  test("repeats each row in place (abc → aabbcc) and stamps task and rollout indices", () => {
    const out = expandRows([row("a"), row("b"), row("c")], { numRepeats: 2, defaultAgent: "ag" });
    expect(out.map((r) => [(r.row.responses_create_params as { input: string }).input, r.taskIndex, r.rolloutIndex])).toEqual([
      ["a", 0, 0], ["a", 0, 1], ["b", 1, 0], ["b", 1, 1], ["c", 2, 0], ["c", 2, 1],
    ]);
    expect(out[3].row).toMatchObject({ _ng_task_index: 1, _ng_rollout_index: 1, agent_ref: { type: "responses_api_agents", name: "ag" } });
  });

  test("identical rows share a task index with consecutive rollout indices; existing task indices are kept", () => {
    const out = expandRows([row("a"), row("b"), row("a"), row("z", { _ng_task_index: 7 })], { numRepeats: 2, defaultAgent: "ag" });
    expect(out.map((r) => `${r.taskIndex}:${r.rolloutIndex}`)).toEqual(["8:0", "8:1", "9:0", "9:1", "8:2", "8:3", "7:0", "7:1"]);
    expect(new Set(out.map((r) => `${r.taskIndex}:${r.rolloutIndex}`)).size).toBe(out.length);
  });

  test("agent_ref routes, default agent otherwise, and a row with neither is an error", () => {
    const out = expandRows([row("a", { agent_ref: { type: "responses_api_agents", name: "x" } }), row("b")], { defaultAgent: "y" });
    expect(out.map((r) => r.agent)).toEqual(["x", "y"]);
    expect(() => expandRows([row("a")])).toThrow(RowError);
    expect(() => expandRows([{ q: 1 }], { defaultAgent: "y" })).toThrow(/responses_create_params/);
  });

  test("sampling params: temperature/top_p replaced, max_output_tokens capped, seed per rollout, limit", () => {
    const out = expandRows([row("a"), row("b")], { defaultAgent: "y", numRepeats: 2, limit: 1, samplingParams: { temperature: 0.7, top_p: 0.9, max_output_tokens: 50 }, seedPerRollout: true });
    expect(out).toHaveLength(2);
    expect(out[1].row.responses_create_params).toMatchObject({ temperature: 0.7, top_p: 0.9, max_output_tokens: 50, metadata: { extra_body: '{"seed":1}' } });
    const capped = expandRows([row("a")], { defaultAgent: "y", samplingParams: { max_output_tokens: 500 } });
    expect((capped[0].row.responses_create_params as { max_output_tokens: number }).max_output_tokens).toBe(100);
  });

  test("seedOf stamps a seed per (task, rollout) beside the row's own extra_body", () => {
    const withExtra = row("a", {});
    (withExtra.responses_create_params as Record<string, unknown>).metadata = { extra_body: '{"top_k":-1}' };
    const out = expandRows([withExtra, row("b")], { defaultAgent: "y", numRepeats: 2, seedPerRollout: true, seedOf: (t, r) => 1000 * t + r });
    const extra = out.map((o) => JSON.parse((o.row.responses_create_params as { metadata: { extra_body: string } }).metadata.extra_body));
    expect(extra).toEqual([{ top_k: -1, seed: 0 }, { top_k: -1, seed: 1 }, { seed: 1000 }, { seed: 1001 }]);
  });
});
