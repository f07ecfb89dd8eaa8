/** The wire schemas accept what NeMo Gym writes: every sample row and every recorded rollout result. */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { responseCreateParams, runRequest, verifyResponse } from "../../src/gym/protocol/index.ts";
import { NEMO_GYM_ENVS, nemoGymData } from "./helpers/paths.ts";

const lines = (f: string) => readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
test("all nine sample environments are there", () => expect(NEMO_GYM_ENVS).toHaveLength(9));

describe.each(NEMO_GYM_ENVS)("%s", (env) => {
  test("example.jsonl rows are valid /run requests", () => {
    for (const row of lines(nemoGymData(env, "example.jsonl"))) expect(runRequest.safeParse(row).error).toBeUndefined();
  });
  test("example_rollouts.jsonl results are valid verify responses", () => {
    for (const r of lines(nemoGymData(env, "example_rollouts.jsonl"))) expect(verifyResponse.safeParse(r).error).toBeUndefined();
  });
});

test("create params are strict at the top level, as NeMo Gym's extra=forbid", () => {
  expect(responseCreateParams.safeParse({ input: "x", temperature: 0.5 }).success).toBe(true);
  expect(responseCreateParams.safeParse({ input: "x", made_up: 1 }).success).toBe(false);
});
