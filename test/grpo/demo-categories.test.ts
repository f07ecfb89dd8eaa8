/** Per-category validation accuracy read back from validation_rollouts.jsonl (src/grpo/demo-categories.ts). */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { categoryAccuracy } from "../../src/grpo/demo-categories.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-cat-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("first block is before, last block after; a failed rollout counts 0; rows without category give null", () => {
  const rows = [{ category: "a" }, { category: "b" }, { category: "a" }];
  const block = (rewards: (number | "failed")[]) => rewards.map((r, task) => (r === "failed" ? { step: -1, task, failed: "timeout" } : { step: -1, task, reward: r }));
  const path = join(tmp, "validation_rollouts.jsonl");
  const lines = [...block([1, 0, 0]), ...block([1, 1, 1]), ...block([1, "failed", 1])];
  writeFileSync(path, lines.map((l) => JSON.stringify(l) + "\n").join(""));
  expect(categoryAccuracy(path, rows)).toEqual({ before: { a: 0.5, b: 0 }, after: { a: 1, b: 0 } });
  expect(categoryAccuracy(path, [{}, {}, {}])).toBeNull();
  expect(categoryAccuracy(join(tmp, "missing.jsonl"), rows)).toBeNull();
});
