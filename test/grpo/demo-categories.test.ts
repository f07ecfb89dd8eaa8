/** Per-category validation accuracy read back from validation_rollouts.jsonl (src/grpo/demo-categories.ts). */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { categoryAccuracy } from "../../src/grpo/demo-categories.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-cat-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A validation row as loadValidation gives it: the prompt, its category, its agent. */
const row = (text: string, category: string) => ({
  responses_create_params: { input: [{ role: "user", content: text }] },
  category,
  agent_ref: { type: "responses_api_agents", name: "agent" },
});

test("first block is before, last block after; a failed rollout counts 0; rows without category give null", () => {
  const rows = [row("q0", "a"), row("q1", "b"), row("q2", "a")];
  const block = (rewards: (number | "failed")[]) => rewards.map((r, task) => (r === "failed" ? { step: -1, task, failed: "timeout" } : { step: -1, task, reward: r }));
  const path = join(tmp, "validation_rollouts.jsonl");
  const lines = [...block([1, 0, 0]), ...block([1, 1, 1]), ...block([1, "failed", 1])];
  writeFileSync(path, lines.map((l) => JSON.stringify(l) + "\n").join(""));
  expect(categoryAccuracy(path, rows)).toEqual({ before: { a: 0.5, b: 0 }, after: { a: 1, b: 0 } });
  expect(categoryAccuracy(path, [{}, {}, {}])).toBeNull();
  expect(categoryAccuracy(join(tmp, "missing.jsonl"), rows)).toBeNull();
});

test("a duplicate row shares its task (NeMo Gym dedups): the rows after it keep their own categories", () => {
  // rows 1 and 3 are the same prompt, so validation ran tasks 0, 1, 2, 3 with two rollouts of task 1
  const rows = [row("a", "email"), row("b", "calendar"), row("c", "analytics"), row("b", "calendar"), row("d", "crm")];
  const block = (r: Record<string, number>) => [
    { task: 0, rollout: 0, reward: r.a },
    { task: 1, rollout: 0, reward: r.b },
    { task: 1, rollout: 1, reward: r.b },
    { task: 2, rollout: 0, reward: r.c },
    { task: 3, rollout: 0, reward: r.d },
  ];
  const path = join(tmp, "duplicates.jsonl");
  const lines = [...block({ a: 0, b: 1, c: 0, d: 0 }), ...block({ a: 1, b: 0, c: 1, d: 1 })];
  writeFileSync(path, lines.map((l) => JSON.stringify({ step: -1, ...l }) + "\n").join(""));
  expect(categoryAccuracy(path, rows)).toEqual({
    before: { analytics: 0, calendar: 1, crm: 0, email: 0 },
    after: { analytics: 1, calendar: 0, crm: 1, email: 1 },
  });
});

test("an incomplete last block is not read as the end", () => {
  const rows = [row("a", "email"), row("b", "calendar")];
  const path = join(tmp, "incomplete.jsonl");
  const lines = [
    { task: 0, rollout: 0, reward: 1 },
    { task: 1, rollout: 0, failed: "timeout" },
    { task: 0, rollout: 0, reward: 0 },
  ];
  writeFileSync(path, lines.map((l) => JSON.stringify({ step: -1, ...l }) + "\n").join(""));
  expect(categoryAccuracy(path, rows)).toEqual({ before: { calendar: 0, email: 1 }, after: { calendar: 0, email: 1 } });
});
