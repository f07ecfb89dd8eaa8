/**
 * example_session_state_mgmt, ported from NeMo Gym
 * `resources_servers/example_session_state_mgmt/app.py` (StatefulCounterResourcesServer): a counter
 * per session cookie, seeded with the row's `initial_count`; `increment_counter {count}` adds,
 * `get_counter_value {}` reads; verify gives 1.0 when the session's counter equals
 * `expected_count`. It tests that the agent keeps one session across a rollout's calls. NeMo Gym's
 * native resources-session endpoints (close_resources_session) are not ported.
 */
import { z } from "zod";
import { defineResourcesServer, tool } from "../../gym/servers/resources/define.ts";

/** undefined until seeded or touched by a tool: verify of an unknown session gives 0, as in NeMo Gym. */
type State = { counter?: number };

export default defineResourcesServer<State>({
  name: "StatefulCounterResourcesServer",
  initialState: () => ({}),
  seedSession: (row, s) => {
    s.state.counter ??= Number(row.initial_count ?? 0);
  },
  tools: {
    increment_counter: tool(z.object({ count: z.number().int() }), ({ count }, s) => {
      s.state.counter = (s.state.counter ?? 0) + count;
      return { success: true };
    }),
    get_counter_value: tool(z.object({}), (_args, s) => ({ count: (s.state.counter ??= 0) })),
  },
  verify: (body, s) => ({ reward: s.state.counter !== undefined && body.expected_count === s.state.counter ? 1.0 : 0.0 }),
});
