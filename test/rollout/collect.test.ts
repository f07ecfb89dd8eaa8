/**
 * The collector against small in-process fake agents: trajectories (a prefix break, an empty
 * generation, no trainable item), mixed agents, out-of-order completion and grouping, retries,
 * deadlines, backpressure, and that every rollout ends in exactly one outcome.
 */
import { afterEach, describe, expect, test } from "vitest";
import { collectAll, collectRollouts, type RolloutOutcome } from "../../src/rollout/index.ts";
import { clientFor, resultWith, sleep, startFakeAgent, type AgentScript, type FakeAgent } from "./helpers/fake-agents.ts";

const agents: FakeAgent[] = [];
async function agent(name: string, script: AgentScript): Promise<FakeAgent> {
  const a = await startFakeAgent(name, script);
  agents.push(a);
  return a;
}
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

const rows = (n: number, agentName?: string) =>
  Array.from({ length: n }, (_, i) => ({ responses_create_params: { input: `q${i}` }, ...(agentName ? { agent_ref: { type: "responses_api_agents", name: agentName } } : {}) }));

const twoTurns = (row: Record<string, unknown>) => resultWith(row, [{ prompt: [1, 2], gen: [3, 4] }, { prompt: [1, 2, 3, 4, 5], gen: [6] }]);

describe("trajectories from results", () => {
  test("a contiguous two-call rollout: tokens = last prompt + generation, mask on generated tokens only", async () => {
    const a = await agent("a", (row) => twoTurns(row));
    const { groups, metrics } = await collectAll({ gym: clientFor([a]), rows: rows(2), numRepeats: 2, defaultAgent: "a" });
    expect(groups).toHaveLength(2);
    for (const s of groups.flatMap((g) => g.samples)) {
      expect([...s.tokens]).toEqual([1, 2, 3, 4, 5, 6]);
      expect([...s.lossMask]).toEqual([0, 0, 1, 1, 0, 1]);
      expect(s.turns).toBe(2);
    }
    expect(metrics).toMatchObject({ rollouts: 4, succeeded: 4, samples: 4, contiguity_breaks: 0 });
    expect(metrics.turns_per_sample.mean).toBe(2);
    expect(metrics.gen_tokens_per_turn).toMatchObject({ n: 8, mean: 1.5, max: 2 });
    expect(metrics.total_tokens_per_sample.mean).toBe(6);
  });

  test("a deliberate prefix break is counted and split (default), or a failure record with prefix-break policy 'fail'", async () => {
    const a = await agent("a", (row) => resultWith(row, [{ prompt: [1, 2], gen: [3, 4] }, { prompt: [1, 2, 9, 4, 5], gen: [6] }]));
    const split = await collectAll({ gym: clientFor([a]), rows: rows(1), defaultAgent: "a" });
    expect(split.metrics).toMatchObject({ contiguity_breaks: 1, broken_rollouts: 1, split_rollouts: 1, samples: 2 });
    expect(split.groups[0].samples.map((s) => [...s.tokens])).toEqual([[1, 2, 3, 4], [1, 2, 9, 4, 5, 6]]);
    expect(split.groups[0].succeeded[0].conversion.breaks[0]).toMatchObject({ call: 1, position: 2, expected: 3, got: 9 });

    const strict = await collectAll({ gym: clientFor([a]), rows: rows(1), defaultAgent: "a", trajectory: { onPrefixBreak: "fail" } });
    expect(strict.failures).toHaveLength(1);
    expect(strict.failures[0]).toMatchObject({ errorClass: "trajectory", taskIndex: 0, rolloutIndex: 0 });
    expect(strict.failures[0].message).toMatch(/prefix_break/);
    expect(strict.metrics.failures_by_class).toEqual({ trajectory: 1 });
  });

  test("an empty generation (context overflow) and a rollout with no trainable item are flagged samples, not failures", async () => {
    const a = await agent("a", (row) => {
      const q = (row.responses_create_params as { input: string }).input;
      if (q === "q0") {
        // vllm_model's answer to a prompt past the context: incomplete, no generated tokens
        return { ...row, reward: 0, response: { id: "r", status: "incomplete", incomplete_details: { reason: "max_output_tokens" }, output: [{ type: "message", role: "assistant", content: [], prompt_token_ids: [1, 2, 3], generation_token_ids: [], generation_log_probs: [] }] } };
      }
      return { ...row, reward: 0.5, response: { id: "r", status: "completed", output: [{ type: "message", role: "assistant", content: [{ type: "output_text", text: "hi" }] }] } };
    });
    const { groups, metrics } = await collectAll({ gym: clientFor([a]), rows: rows(2), defaultAgent: "a" });
    const byTask = new Map(groups.map((g) => [g.taskIndex, g]));
    const overflow = byTask.get(0)!.succeeded[0].conversion;
    expect(overflow.outcome).toBe("no_trainable_tokens");
    expect(overflow.emptyGenerationCalls).toBe(1);
    expect(overflow.samples[0]).toMatchObject({ noTrainableTokens: "prompt_exceeds_max_model_len", truncated: true });
    expect([...overflow.samples[0].lossMask].every((m) => m === 0)).toBe(true);
    expect(byTask.get(1)!.samples[0].noTrainableTokens).toBe("no_token_ids");
    expect(metrics).toMatchObject({ failed: 0, samples: 0, truncation_rate: 0.5, empty_generation_calls: 1, no_trainable_rollouts: { prompt_exceeds_max_model_len: 1, no_token_ids: 1, only_untrained_items: 0 } });
    expect(metrics.reward.mean).toBe(0.25);
  });
});

describe("routing, ordering and grouping", () => {
  test("mixed agents in one batch: each row goes to its agent_ref; metrics per agent", async () => {
    const a = await agent("math", (row) => ({ ...twoTurns(row), reward: 1, accuracy: true }));
    const b = await agent("tools", (row) => ({ ...twoTurns(row), reward: 0 }));
    const mixed = [...rows(3, "math"), ...rows(2, "tools")].map((r, i) => ({ ...r, responses_create_params: { input: `p${i}` } }));
    const { groups, metrics } = await collectAll({ gym: clientFor([a, b]), rows: mixed, numRepeats: 2 });
    expect(a.received).toHaveLength(6);
    expect(b.received).toHaveLength(4);
    expect(a.received.every((r) => (r.agent_ref as { name: string }).name === "math")).toBe(true);
    expect(groups.map((g) => g.agents[0]).sort()).toEqual(["math", "math", "math", "tools", "tools"]);
    expect(metrics.per_agent.math).toMatchObject({ rollouts: 6, reward: { mean: 1 }, verify_fields: { accuracy: { mean: 1 } } });
    expect(metrics.per_agent.tools).toMatchObject({ rollouts: 4, reward: { mean: 0 } });
    expect(metrics.reward.mean).toBeCloseTo(0.6);
  });

  test("out-of-order completion: outcomes stream in completion order, groups are released whole, members in rollout order", async () => {
    // later rows answer first: task 2 finishes before task 0
    const a = await agent("a", async (row) => {
      // 250 ms between tasks: wide enough that a loaded machine cannot reorder them
      await sleep(10 + 250 * (2 - (row._ng_task_index as number)) + 5 * (row._ng_rollout_index as number));
      return twoTurns(row);
    });
    const order: string[] = [];
    const run = collectRollouts({ gym: clientFor([a]), rows: rows(3), numRepeats: 3, defaultAgent: "a", concurrency: 9, onOutcome: (o) => order.push(`${o.taskIndex}:${o.rolloutIndex}`) });
    const released: number[] = [];
    for await (const g of run) {
      released.push(g.taskIndex);
      expect(g.outcomes.map((o) => o.rolloutIndex)).toEqual([0, 1, 2]);
      // when a group comes out, every one of its members has already arrived
      expect(order.filter((k) => k.startsWith(`${g.taskIndex}:`))).toHaveLength(3);
    }
    expect(released).toEqual([2, 1, 0]);
    expect(order[0].startsWith("2:")).toBe(true);
    expect(new Set(order).size).toBe(9);
  });
});

describe("faults", () => {
  test("5xx is retried with backoff, 4xx is not, an unreachable agent fails after its retries; the batch finishes", async () => {
    const a = await agent("a", (row, attempt) => {
      const q = (row.responses_create_params as { input: string }).input;
      if (q === "q0" && attempt <= 2) return { status: 503, body: { detail: "busy" } };
      if (q === "q1") return { status: 422, body: { detail: "bad row" } };
      return twoTurns(row);
    });
    const input = [...rows(3), { responses_create_params: { input: "gone" }, agent_ref: { type: "responses_api_agents", name: "dead" } }];
    const { groups, failures, metrics } = await collectAll({ gym: clientFor([a, { name: "dead", port: 1 }]), rows: input, defaultAgent: "a", retries: 2, backoffMs: 5 });
    expect(groups).toHaveLength(4);
    const q0 = groups.find((g) => g.taskIndex === 0)!.succeeded[0];
    expect(q0.timing.attempts).toBe(3);
    expect(failures.map((f) => [f.taskIndex, f.errorClass, f.timing.attempts]).sort()).toEqual([[1, "client_error", 1], [3, "connection", 3]]);
    expect(failures.find((f) => f.taskIndex === 1)!.status).toBe(422);
    expect(metrics).toMatchObject({ rollouts: 4, succeeded: 2, failed: 2, retries: 4, failures_by_class: { client_error: 1, connection: 1 } });
  });

  test("a stalled agent: the rollout fails at its deadline and the rest of the batch is unaffected", async () => {
    const a = await agent("a", (row) => ((row.responses_create_params as { input: string }).input === "q1" ? new Promise(() => {}) : twoTurns(row)));
    const t0 = Date.now();
    const { failures, metrics } = await collectAll({ gym: clientFor([a]), rows: rows(4), defaultAgent: "a", deadlineMs: 300, retries: 3 });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(failures.map((f) => [f.taskIndex, f.errorClass, f.timing.attempts])).toEqual([[1, "timeout", 1]]);
    expect(metrics).toMatchObject({ rollouts: 4, succeeded: 3 });
    expect(failures[0].timing.runMs).toBeGreaterThanOrEqual(290);
  });

  test("an environment's own _ng_failure_class is a failure record, not a sample", async () => {
    const a = await agent("a", (row) => ({ ...twoTurns(row), reward: 0, _ng_failure_class: "judge_failed", _ng_failure_judge_error: "judge down" }));
    const { failures } = await collectAll({ gym: clientFor([a]), rows: rows(1), defaultAgent: "a" });
    expect(failures[0]).toMatchObject({ errorClass: "judge_failed" });
    expect(failures[0].message).toMatch(/judge down/);
  });
});

describe("bounds", () => {
  test("concurrency limits rollouts in flight; a consumer that stops pulling stops new sends (maxResident)", async () => {
    const a = await agent("a", async (row) => {
      await sleep(5);
      return twoTurns(row);
    });
    const run = collectRollouts({ gym: clientFor([a]), rows: rows(40), defaultAgent: "a", concurrency: 4, maxResident: 8 });
    const it = run.outcomes()[Symbol.asyncIterator]();
    await it.next();
    await sleep(200); // the consumer is busy: at most maxResident rollouts may have been sent
    expect(a.received.length).toBeLessThanOrEqual(9);
    const seen: RolloutOutcome[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) seen.push(r.value);
    expect(seen).toHaveLength(39);
    expect(a.peakInFlight).toBeLessThanOrEqual(4);
    expect(a.received).toHaveLength(40);
  });

  test("abort: every rollout still ends in exactly one outcome; unsent ones are never sent", async () => {
    const a = await agent("a", async (row) => {
      await sleep(50);
      return twoTurns(row);
    });
    const stop = new AbortController();
    const outcomes: RolloutOutcome[] = [];
    const run = collectRollouts({ gym: clientFor([a]), rows: rows(30), defaultAgent: "a", concurrency: 5, signal: stop.signal });
    for await (const o of run.outcomes()) {
      outcomes.push(o);
      if (outcomes.length === 5) stop.abort();
    }
    expect(outcomes).toHaveLength(30);
    expect(new Set(outcomes.map((o) => o.taskIndex)).size).toBe(30);
    const aborted = outcomes.filter((o) => o.kind === "failed" && o.errorClass === "aborted");
    expect(aborted.length).toBeGreaterThanOrEqual(20);
    expect(a.received.length).toBeLessThanOrEqual(11);
  });
});
