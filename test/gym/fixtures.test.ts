/**
 * The NeMo Gym / NeMo RL sample files the tests read are still the upstream bytes: the fixture copies
 * and the identical files gymrl reuses from src/environments/<env>/data and src/gym/configs.
 * If a reused file is meant to change, copy the original into test/fixtures first.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect, test } from "vitest";
import { NEMO_GYM_CONFIGS, NEMO_GYM_ENVS, nemoGymData, REPO } from "./helpers/paths.ts";

const SUMS = readFileSync(resolve(REPO, "test/fixtures/SHA256SUMS"), "utf8")
  .trim()
  .split("\n")
  .map((l) => {
    const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(l);
    if (!m) throw new Error(`test/fixtures/SHA256SUMS: bad line ${JSON.stringify(l)}`);
    return { sha256: m[1], path: m[2] };
  });
const sha256 = (path: string) => createHash("sha256").update(readFileSync(resolve(REPO, path))).digest("hex");

test.each(SUMS.map((s) => [s.path, s.sha256]))("%s is the upstream file", (path, expected) => {
  expect(sha256(path)).toBe(expected);
});

test("every sample file the tests resolve is pinned, and nothing resolves outside the repository", () => {
  const pinned = new Set(SUMS.map((s) => resolve(REPO, s.path)));
  const used = [
    ...NEMO_GYM_CONFIGS.map((c) => c.path),
    ...NEMO_GYM_ENVS.flatMap((env) => [nemoGymData(env, "example.jsonl"), nemoGymData(env, "example_rollouts.jsonl")]),
  ];
  expect(NEMO_GYM_ENVS).toHaveLength(9);
  for (const p of used) {
    expect(p.startsWith(REPO + "/")).toBe(true);
    expect(pinned.has(p), p).toBe(true);
  }
  expect(() => nemoGymData("no_such_env", "example.jsonl")).toThrow(/no_such_env\/example\.jsonl/);
});
