/**
 * Conformance with NeMo Gym's own recorded results: for every rollout in
 * NeMo Gym's <env>/example_rollouts.jsonl of a ported environment (src/environments/<env>/data), gymrl's /verify on the
 * recorded row + response gives the recorded reward and every recorded extra field. Rows whose
 * task fields were not kept in the recording are joined back from example.jsonl by their input.
 * Tool calls of the recorded response are replayed first in the same session (stateful servers need
 * them), and each tool's answer must equal the recorded function_call_output.
 */
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { nemoGymData, VLLM_CONFIG } from "../gym/helpers/paths.ts";
import { startInProcess, type InProcessGym } from "../gym/helpers/in-process.ts";
import { envConfig, post, readJsonl, type Json } from "./helpers.ts";

/** env folder → its resources server instance name in the config. */
const PORTED: Record<string, string> = {
  example_single_tool_call: "example_single_tool_call",
  example_multi_step: "example_multi_step_resources_server",
  example_session_state_mgmt: "example_session_state_mgmt_resources_server",
  example_tool_call_multireward: "example_tool_call_multireward",
  mcqa: "mcqa",
  string_match: "string_match",
  math_with_judge: "math_with_judge",
};

/** Bookkeeping the rollout collector stamps on results; not verify's output. */
const NOT_VERIFY_FIELDS = new Set(["responses_create_params", "response", "agent_ref", "_ng_task_index", "_ng_rollout_index"]);

/**
 * Recorded fields gymrl cannot reproduce, keyed by env and the rollout's expected_answer.
 *  - math_with_judge judge_evaluations where math_verify said "not equal": NeMo Gym then asked an LLM
 *    judge and recorded its transcript; gymrl's port has no judge (should_use_judge: false) and
 *    returns null. The reward still matches: the judge also said "not equal".
 *  - math_with_judge extracted_answer for x_2016: math_verify prints SymPy's unevaluated form
 *    `(-(1 - sqrt(3))**4033 + ...)`; gymrl compares exactly in Q(√3) and reports the boxed text.
 */
const EXCLUDED: { env: string; expected: string; field: string }[] = [
  { env: "math_with_judge", expected: "\\(\\frac{333}{1997}\\)", field: "judge_evaluations" },
  { env: "math_with_judge", expected: "-3", field: "judge_evaluations" },
  { env: "math_with_judge", expected: "\\(\\frac{(3-\\sqrt{3})(2-\\sqrt{3})^{2016}+(3+\\sqrt{3})(2+\\sqrt{3})^{2016}}{6}\\)", field: "extracted_answer" },
];

const inputKey = (rcp: unknown) =>
  JSON.stringify(((rcp as { input: Json[] }).input ?? []).map((m) => (typeof m.content === "string" ? m.content : (m.content as Json[]).map((c) => c.text).join(""))));

/** Numbers within 1e-9, everything else (strings, booleans, null, nesting) exactly. */
function close(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) <= 1e-9;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => close(x, b[i]));
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).sort();
    return isDeepStrictEqual(ka, Object.keys(b).sort()) && ka.every((k) => close((a as Json)[k], (b as Json)[k]));
  }
  return a === b;
}

let gym: InProcessGym;
beforeAll(async () => {
  const configs = Object.keys(PORTED).map(envConfig);
  gym = await startInProcess([VLLM_CONFIG, ...configs], ["+policy_base_url=http://127.0.0.1:9/v1", "+policy_api_key=k", "+policy_model_name=m"]);
});
afterAll(() => gym.close());

test("the closeness check can fail", () => {
  expect(close(1.0, 1.0 + 1e-12)).toBe(true);
  expect(close(1.0, 1.001)).toBe(false);
  expect(close({ a: [1, "x"] }, { a: [1, "y"] })).toBe(false);
  expect(close(null, 0)).toBe(false);
});

describe.each(Object.entries(PORTED))("%s", (env, server) => {
  const rows = readJsonl(nemoGymData(env, "example.jsonl"));
  const recorded = readJsonl(nemoGymData(env, "example_rollouts.jsonl"));

  test.each(recorded.map((r, i) => [i, r] as const))("rollout %i: reward and extra fields as recorded", async (_i, rec) => {
    const row = rows.find((r) => inputKey(r.responses_create_params) === inputKey(rec.responses_create_params));
    expect(row, "the recorded rollout's row is in example.jsonl").toBeDefined();
    const url = gym.url(server);
    const request = { ...row, responses_create_params: rec.responses_create_params, response: rec.response };

    const seeded = await post(`${url}/seed_session`, { ...row, responses_create_params: rec.responses_create_params });
    expect(seeded.status).toBe(200);
    const output = (rec.response as { output: Json[] }).output;
    for (const call of output.filter((o) => o.type === "function_call")) {
      const answer = await post(`${url}/${String(call.name)}`, JSON.parse(call.arguments as string), seeded.cookie);
      const recordedOutput = output.find((o) => o.type === "function_call_output" && o.call_id === call.call_id);
      expect(answer.status).toBe(200);
      if (recordedOutput) expect(answer.json).toEqual(JSON.parse(recordedOutput.output as string));
    }

    const verified = await post(`${url}/verify`, request, seeded.cookie);
    expect(verified.status).toBe(200);
    const excluded = new Set(EXCLUDED.filter((x) => x.env === env && x.expected === rec.expected_answer).map((x) => x.field));
    const fields = Object.keys(rec).filter((k) => !NOT_VERIFY_FIELDS.has(k) && !excluded.has(k));
    expect(fields).toContain("reward");
    for (const k of fields) {
      expect(close(verified.json[k], rec[k]), `${k}: got ${JSON.stringify(verified.json[k])}, recorded ${JSON.stringify(rec[k])}`).toBe(true);
    }
  });
});
