/** The wire schemas accept what NeMo Gym writes: every sample row and every recorded rollout result. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { responseCreateParams, runRequest, verifyResponse } from "../../src/gym/protocol/index.ts";
import { NEMO_GYM_DATA } from "./helpers/paths.ts";

const lines = (f: string) => readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
const envs = readdirSync(NEMO_GYM_DATA).filter((d) => !d.endsWith(".yaml"));

describe.each(envs)("%s", (env) => {
  test("example.jsonl rows are valid /run requests", () => {
    for (const row of lines(join(NEMO_GYM_DATA, env, "example.jsonl"))) expect(runRequest.safeParse(row).error).toBeUndefined();
  });
  test("example_rollouts.jsonl results are valid verify responses", () => {
    for (const r of lines(join(NEMO_GYM_DATA, env, "example_rollouts.jsonl"))) expect(verifyResponse.safeParse(r).error).toBeUndefined();
  });
});

test("create params are strict at the top level, as NeMo Gym's extra=forbid", () => {
  expect(responseCreateParams.safeParse({ input: "x", temperature: 0.5 }).success).toBe(true);
  expect(responseCreateParams.safeParse({ input: "x", made_up: 1 }).success).toBe(false);
});
