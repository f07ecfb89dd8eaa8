import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { categoryAccuracy } from "./demo-categories.ts";

const row = (text: string, category: string) => ({
  responses_create_params: { input: [{ role: "user", content: text }] },
  category,
  agent_ref: { type: "responses_api_agents", name: "agent" },
});

test("a duplicate row shares its task: the rows after it keep their own categories", () => {
  // rows 1 and 3 are the same prompt, so validation ran tasks 0, 1, 2 with two rollouts of task 1
  const rows = [row("a", "email"), row("b", "calendar"), row("c", "analytics"), row("b", "calendar"), row("d", "crm")];
  const block = (rewards: Record<string, number>) => [
    { task: 0, rollout: 0, reward: rewards.a },
    { task: 1, rollout: 0, reward: rewards.b },
    { task: 1, rollout: 1, reward: rewards.b },
    { task: 2, rollout: 0, reward: rewards.c },
    { task: 3, rollout: 0, reward: rewards.d },
  ];
  const dir = mkdtempSync(join(tmpdir(), "gymrl-categories-"));
  const dump = join(dir, "validation_rollouts.jsonl");
  const lines = [...block({ a: 0, b: 1, c: 0, d: 0 }), ...block({ a: 1, b: 0, c: 1, d: 1 })];
  writeFileSync(dump, lines.map((l) => JSON.stringify({ step: -1, ...l }) + "\n").join(""));
  expect(categoryAccuracy(dump, rows)).toEqual({
    before: { analytics: 0, calendar: 1, crm: 0, email: 0 },
    after: { analytics: 1, calendar: 0, crm: 1, email: 1 },
  });
});

test("a failed rollout counts 0 and an incomplete last block is not read as the end", () => {
  const rows = [row("a", "email"), row("b", "calendar")];
  const dir = mkdtempSync(join(tmpdir(), "gymrl-categories-"));
  const dump = join(dir, "validation_rollouts.jsonl");
  const lines = [
    { task: 0, rollout: 0, reward: 1 },
    { task: 1, rollout: 0, failed: "timeout" },
    { task: 0, rollout: 0, reward: 0 },
  ];
  writeFileSync(dump, lines.map((l) => JSON.stringify({ step: -1, ...l }) + "\n").join(""));
  expect(categoryAccuracy(dump, rows)).toEqual({ before: { calendar: 0, email: 1 }, after: { calendar: 0, email: 1 } });
});
