/**
 * workplace_assistant, ported from NeMo Gym `resources_servers/workplace_assistant/app.py`
 * (WorkbenchResourcesServer): multi-step tool use over a sandbox of five tables (emails, calendar,
 * analytics, project tasks, CRM) and the company directory, 27 tools with upstream's names,
 * arguments, answers and error strings.
 *
 * - `/seed_session` gives the session a fresh sandbox (from data/csv).
 * - `POST /<tool>` runs the tool on the session's sandbox and answers `{output}`. Bad arguments
 *   (wrong names, wrong types, not an object) are answered as text, `Error executing tool ...`,
 *   with status 200, as upstream does, so the model reads the error and the rollout goes on.
 *   Without a seeded session: 400, as upstream.
 * - `/verify`: reward 1.0 when replaying the response's function calls and the row's
 *   `ground_truth` calls on two fresh sandboxes leaves equal tables (verify.ts); the session is
 *   dropped afterwards.
 */
import { z } from "zod";
import { HttpError } from "../../gym/http/errors.ts";
import { defineResourcesServer, tool, type ToolDef } from "../../gym/servers/resources/define.ts";
import { functionCalls } from "../_shared/response-text.ts";
import { newSandbox, type Sandbox } from "./sandbox.ts";
import { callTool, TOOLS } from "./tools/index.ts";
import { isCorrect, type ToolCallText } from "./verify.ts";

type State = { sandbox?: Sandbox };

/** ground_truth items: `{name, arguments}` with arguments as JSON text (an object is accepted too). */
export function groundTruthCalls(v: unknown): ToolCallText[] {
  if (!Array.isArray(v)) throw new HttpError(422, "ground_truth must be a list of {name, arguments}", "invalid_request_error", [{ loc: ["body", "ground_truth"], msg: "must be a list", type: "list_type" }]);
  return v.map((c: unknown, k) => {
    const o = c as { name?: unknown; arguments?: unknown };
    if (!o || typeof o.name !== "string") throw new HttpError(422, `ground_truth[${k}].name must be a string`);
    return { name: o.name, arguments: typeof o.arguments === "string" ? o.arguments : JSON.stringify(o.arguments ?? {}) };
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool takes any JSON; the tool checks it the way upstream's Python does
const tools: Record<string, ToolDef<State, any>> = {};
for (const name of Object.keys(TOOLS)) {
  tools[name] = tool(z.unknown(), (args, s: { state: State }) => {
    if (!s.state.sandbox) throw new HttpError(400, "Session not initialized. Please call seed_session first.");
    return callTool(s.state.sandbox, name, args);
  });
}

export default defineResourcesServer<State>({
  name: "WorkbenchResourcesServer",
  initialState: () => ({}),
  seedSession: (_row, s) => {
    s.state.sandbox = newSandbox();
  },
  tools,
  verify: (body, s) => {
    try {
      const groundTruth = groundTruthCalls(body.ground_truth);
      const predicted = functionCalls(body.response.output as Record<string, unknown>[]);
      return { reward: isCorrect(predicted, groundTruth) ? 1.0 : 0.0 };
    } finally {
      delete s.state.sandbox;
    }
  },
});
