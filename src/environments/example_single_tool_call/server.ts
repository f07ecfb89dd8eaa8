/**
 * example_single_tool_call, ported from NeMo Gym `resources_servers/example_single_tool_call/app.py`
 * (SimpleWeatherResourcesServer): one tool, `get_weather {city}` → `{city, weather_description}`,
 * always "cold"; verify gives reward 1.0 to every rollout. It is a wire-compatibility smoke test,
 * not a task. Data: data/example.jsonl (rows) and data/example_rollouts.jsonl (NeMo Gym results).
 */
import { z } from "zod";
import { defineResourcesServer, tool } from "../../gym/servers/resources/define.ts";

export default defineResourcesServer({
  name: "SimpleWeatherResourcesServer",
  tools: {
    get_weather: tool(z.object({ city: z.string() }), ({ city }) => ({
      city,
      weather_description: `The weather in ${city} is cold.`,
    })),
  },
  verify: () => ({ reward: 1.0 }),
});
