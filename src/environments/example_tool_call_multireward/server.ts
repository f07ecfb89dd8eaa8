/**
 * example_tool_call_multireward, ported from NeMo Gym
 * `resources_servers/example_tool_call_multireward/app.py` (ToolCallMultiRewardResourcesServer):
 * one expected tool call graded on three decoupled {0,1} components, returned in
 * `reward_components` (for GDPO-style multi-objective RL) and as top-level fields (metrics);
 * `reward` is their sum.
 *   correctness   some call has the expected name and every expected argument value
 *   schema_valid  the first call's arguments are a JSON object with every required parameter
 *   format        exactly one call and no assistant message
 * The tool itself, `get_weather {city}` → "sunny", is what the recorded rollouts answered.
 */
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { defineResourcesServer, tool } from "../../gym/servers/resources/define.ts";
import { functionCalls, tryParseJson } from "../_shared/response-text.ts";

type Args = Record<string, unknown>;

/** [arguments as an object, whether they were a valid JSON object]: `_parse_arguments`. */
function parseArgs(raw: string): [Args, boolean] {
  const v = tryParseJson(raw);
  return v !== null && typeof v === "object" && !Array.isArray(v) ? [v as Args, true] : [{}, false];
}

function requiredParams(tools: unknown, name: string): string[] {
  const t = ((tools ?? []) as { name?: string; parameters?: { required?: string[] } }[]).find((x) => x.name === name);
  return t?.parameters?.required ?? [];
}

export default defineResourcesServer({
  name: "ToolCallMultiRewardResourcesServer",
  reverifyMode: "stateless",
  tools: {
    get_weather: tool(z.object({ city: z.string() }), ({ city }) => ({ city, weather_description: `The weather in ${city} is sunny.` })),
  },
  verify: (body) => {
    const output = body.response.output;
    const calls = functionCalls(output);
    const expected = (body.expected_call ?? {}) as { name?: string; arguments?: Args };

    const format = calls.length === 1 && !output.some((o) => o.type === "message") ? 1.0 : 0.0;
    let schemaValid = 0.0;
    if (calls.length > 0) {
      const [parsed, valid] = parseArgs(calls[0].arguments);
      schemaValid = valid && requiredParams(body.responses_create_params.tools, calls[0].name).every((k) => k in parsed) ? 1.0 : 0.0;
    }
    const matches = (c: { name: string; arguments: string }) =>
      Object.keys(expected).length > 0 &&
      c.name === expected.name &&
      Object.entries(expected.arguments ?? {}).every(([k, v]) => isDeepStrictEqual(parseArgs(c.arguments)[0][k], v));
    const correctness = calls.some(matches) ? 1.0 : 0.0;

    const reward_components = { correctness, schema_valid: schemaValid, format };
    return {
      reward: correctness + schemaValid + format,
      reward_components,
      ...reward_components,
      predicted_calls: calls.map((c) => ({ name: c.name, arguments: parseArgs(c.arguments)[0] })),
    };
  },
});
