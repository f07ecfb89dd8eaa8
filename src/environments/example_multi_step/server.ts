/**
 * example_multi_step, ported from NeMo Gym `resources_servers/example_multi_step/app.py`
 * (ExampleMultiStepResourcesServer). Tools: `get_synonym_value {synonym}` → `{synonym_value}` (the
 * sum of the synonym's code points) and `extract_synonym_values {synonym_values}` → `{success}`.
 * Verify reads the arguments of the LAST extract_synonym_values call and compares them, in order,
 * with the row's `expected_synonym_values`.
 *
 * One deviation: arguments that are not valid JSON count as an empty extraction (reward 0) where
 * NeMo Gym's json.loads raises (HTTP 500) — a broken call by a policy in training is a wrong answer.
 */
import { z } from "zod";
import { defineResourcesServer, tool } from "../../gym/servers/resources/define.ts";
import { functionCalls, tryParseJson } from "../_shared/response-text.ts";

const codePointSum = (s: string) => [...s].reduce((acc, ch) => acc + ch.codePointAt(0)!, 0);

/** The synonym_values of the last extract call, [] when absent or malformed. */
function extracted(output: readonly Record<string, unknown>[]): unknown[] {
  const last = functionCalls(output).findLast((c) => c.name === "extract_synonym_values");
  if (!last) return [];
  const args = tryParseJson(last.arguments) as { synonym_values?: unknown } | undefined;
  return Array.isArray(args?.synonym_values) ? args.synonym_values : [];
}

export default defineResourcesServer({
  name: "ExampleMultiStepResourcesServer",
  tools: {
    get_synonym_value: tool(z.object({ synonym: z.string() }), ({ synonym }) => ({ synonym_value: codePointSum(synonym) })),
    extract_synonym_values: tool(z.object({ synonym_values: z.array(z.number().int()) }), () => ({ success: true })),
  },
  verify: (body) => {
    const expected = (body.expected_synonym_values ?? []) as unknown[];
    const actual = extracted(body.response.output);
    const accuracy = expected.length === actual.length && expected.every((v, i) => v === actual[i]);
    const actualSet = new Set(actual);
    // len(set(actual) & set(expected)) / len(expected), as in NeMo Gym (an empty expectation divides by zero there too).
    const setOverlap = expected.length === 0 ? 0 : new Set(expected.filter((v) => actualSet.has(v))).size / expected.length;
    return {
      reward: accuracy ? 1.0 : 0.0,
      parsed_synonym_values: actual,
      accuracy,
      set_overlap: setOverlap,
      original_term_minefield_hit: actualSet.has(body.minefield_label) || actualSet.has(body.minefield_label_value),
      order_instruction_following_failure: !accuracy && setOverlap === 1.0,
    };
  },
});
