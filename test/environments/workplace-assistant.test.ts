/**
 * workplace_assistant against NeMo Gym's own data (test/fixtures/nemo-gym/workplace_assistant,
 * Apache-2.0): upstream's YAML loads unchanged and its servers start; every example.jsonl row
 * verifies 1.0 with its ground truth and 0.0 without (or with a call missing); every recorded
 * rollout's tool calls, replayed in one session, answer byte for byte what NeMo Gym recorded,
 * and /verify gives the recorded reward. The recorded rollouts carry no ground truth, so each
 * one's is written here from the sandbox data (checked by hand in the CSVs, noted per row).
 * Then a whole /run through simple_agent with a scripted model: malformed tool arguments come
 * back to the model as the tool's error text and the rollout carries on to a correct answer.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defineServer } from "../../src/gym/servers/define.ts";
import { nemoGymData, NEMO_GYM_FIXTURES, VLLM_CONFIG } from "../gym/helpers/paths.ts";
import { startInProcess, type InProcessGym } from "../gym/helpers/in-process.ts";
import { envConfig, post, readJsonl, type Json } from "./helpers.ts";

const OVERRIDES = ["+policy_base_url=http://127.0.0.1:9/v1", "+policy_api_key=k", "+policy_model_name=m"];
const rows = readJsonl(nemoGymData("workplace_assistant", "example.jsonl"));
const recorded = readJsonl(nemoGymData("workplace_assistant", "example_rollouts.jsonl"));

/** Ground truth of each recorded rollout, by its user prompt. */
const ROLLOUT_TRUTH: Record<string, { calls: { name: string; arguments: string }[]; why: string }> = {
  "Create a bar chart of total visits since November 30": {
    calls: [{ name: "analytics_create_plot", arguments: JSON.stringify({ time_min: "2023-11-30", time_max: "2023-11-30", value_to_plot: "total_visits", plot_type: "bar" }) }],
    why: "today is 2023-11-30, so the range ends today; the recorded call plotted up to 2024-06-30 (reward 0)",
  },
  "We need to move all customers that haven't responded to a proposal for the consulting product in 3 weeks to lost. Can you update the CRM?": {
    calls: [],
    why: "no Consulting customer in Proposal was last contacted on or before 2023-11-09: nothing to change",
  },
  "Delete Casey Wilson from the crm": { calls: [{ name: "customer_relationship_manager_delete_customer", arguments: '{"customer_id": "00000014"}' }], why: "CSV row 00000014" },
  "Add Dakota Thomas as a new lead in the crm and assign them to Nadia": {
    calls: [{ name: "customer_relationship_manager_add_customer", arguments: JSON.stringify({ customer_name: "Dakota Thomas", assigned_to_email: "nadia.moreau@atlas.com", status: "Lead" }) }],
    why: "Nadia is nadia.moreau@atlas.com in the directory",
  },
  "Delete my last email from kofi": { calls: [{ name: "email_delete_email", arguments: '{"email_id": "00000259"}' }], why: "kofi.mensah's latest email (2023-11-22 15:22:52)" },
};

const userText = (r: Json) => {
  const input = (r.responses_create_params as { input: Json[] }).input;
  return String(input[input.length - 1]!.content);
};
const calls = (output: Json[]) => output.filter((o) => o.type === "function_call").map((o) => ({ type: "function_call", name: o.name, arguments: o.arguments, call_id: o.call_id }));
const response = (output: Json[]) => ({ id: "r", object: "response", created_at: 0, model: "m", output, status: "completed" });

let gym: InProcessGym;
let url: string;
beforeAll(async () => {
  gym = await startInProcess([VLLM_CONFIG, envConfig("workplace_assistant")], OVERRIDES);
  url = gym.url("workplace_assistant");
});
afterAll(() => gym.close());

test("upstream's workplace_assistant.yaml loads unchanged and its resources server and simple_agent start", async () => {
  const upstream = await startInProcess([VLLM_CONFIG, `${NEMO_GYM_FIXTURES}/workplace_assistant/workplace_assistant.yaml`], OVERRIDES);
  try {
    const seeded = await post(`${upstream.url("workplace_assistant")}/seed_session`, rows[0]);
    const found = await post(`${upstream.url("workplace_assistant")}/company_directory_find_email_address`, { name: "carlos" }, seeded.cookie);
    expect(found.json).toEqual({ output: ["carlos.rodriguez@atlas.com"] });
    const agent = upstream.config.workplace_assistant_simple_agent as { responses_api_agents: { simple_agent: { max_steps: number } } };
    expect(agent.responses_api_agents.simple_agent.max_steps).toBe(6);
  } finally {
    await upstream.close();
  }
});

describe("example.jsonl", () => {
  test.each(rows.map((r) => [r.id, r] as const))("row %s: ground truth verifies 1.0; nothing, or a call short, 0.0", async (_id, row) => {
    const truth = row.ground_truth as { name: string; arguments: string }[];
    const asOutput = (gt: readonly { name: string; arguments: string }[]) => gt.map((c, k) => ({ type: "function_call", name: c.name, arguments: c.arguments, call_id: `c${k}` }));
    for (const [gt, want] of [
      [truth, 1],
      [[], 0],
      [truth.slice(1), 0],
    ] as const) {
      const seeded = await post(`${url}/seed_session`, row);
      const v = await post(`${url}/verify`, { ...row, response: response(asOutput(gt)) }, seeded.cookie);
      expect(v.status).toBe(200);
      expect(v.json.reward).toBe(want);
    }
  });
});

describe("example_rollouts.jsonl", () => {
  test("every recorded rollout has a ground truth here", () => {
    expect(recorded.map(userText).sort()).toEqual(Object.keys(ROLLOUT_TRUTH).sort());
  });

  test.each(recorded.map((r, i) => [i, r] as const))("rollout %i: tool answers and reward as recorded", async (_i, rec) => {
    const output = (rec.response as { output: Json[] }).output;
    const seeded = await post(`${url}/seed_session`, { responses_create_params: rec.responses_create_params });
    for (const call of calls(output)) {
      const res = await fetch(`${url}/${String(call.name)}`, { method: "POST", headers: { "content-type": "application/json", cookie: seeded.cookie! }, body: call.arguments as string });
      const recordedOutput = output.find((o) => o.type === "function_call_output" && o.call_id === call.call_id)!;
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(recordedOutput.output); // byte for byte, key order included
    }
    const truth = ROLLOUT_TRUTH[userText(rec)]!;
    const v = await post(`${url}/verify`, { responses_create_params: rec.responses_create_params, response: rec.response, ground_truth: truth.calls }, seeded.cookie);
    expect(v.status).toBe(200);
    expect(v.json.reward, truth.why).toBe(rec.reward);
  });
});

describe("sessions and bad arguments", () => {
  test("a tool call before /seed_session is a 400 naming the fix, as upstream", async () => {
    const res = await post(`${url}/email_delete_email`, { email_id: "00000259" });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json)).toContain("seed_session");
  });

  test("sessions are independent: a deletion in one is not seen in another", async () => {
    const a = await post(`${url}/seed_session`, rows[0]);
    const b = await post(`${url}/seed_session`, rows[0]);
    expect((await post(`${url}/email_delete_email`, { email_id: "00000259" }, a.cookie)).json.output).toBe("Email deleted successfully.");
    expect((await post(`${url}/email_delete_email`, { email_id: "00000259" }, a.cookie)).json.output).toBe("Email not found.");
    expect((await post(`${url}/email_delete_email`, { email_id: "00000259" }, b.cookie)).json.output).toBe("Email deleted successfully.");
  });

  test.each([
    ["an unknown keyword", "email_send_email", { to: "a@b.co", subject: "s", body: "b" }, "Error executing tool 'email_send_email': EmailTool.send_email() got an unexpected keyword argument 'to'"],
    ["a number where text is expected", "email_send_email", { recipient: 5, subject: "s", body: "b" }, "Error executing tool 'email_send_email': argument of type 'int' is not iterable"],
    ["a list instead of an object", "calendar_delete_event", ["00000013"], "Error executing tool 'calendar_delete_event': CalendarTool.delete_event() argument after ** must be a mapping, not list"],
    ["a bad regex", "company_directory_find_email_address", { name: "(" }, "Error executing tool 'company_directory_find_email_address': "],
    ["a zero page size", "email_search_emails", { query: "kofi", page_size: 0 }, "Error searching emails: integer division or modulo by zero"],
    ["a bad time", "calendar_search_events", { time_min: "tomorrow" }, "Invalid time_min format. Expected YYYY-MM-DD HH:MM:SS."],
  ])("%s: 200 with the error text for the model", async (_what, name, args, text) => {
    const s = await post(`${url}/seed_session`, rows[0]);
    const res = await post(`${url}/${name}`, args, s.cookie);
    expect(res.status).toBe(200);
    expect(String(res.json.output).startsWith(text)).toBe(true);
  });
});

test("a /run through simple_agent: malformed arguments reach the model as error text and the rollout goes on", async () => {
  const row = rows[0]!; // reply to carlos's email 00000057
  const script: Json[][] = [
    [{ type: "function_call", name: "email_reply_email", arguments: '{"email_id": "00000057", "body": ', call_id: "c1" }],
    [{ type: "function_call", name: "email_reply_email", arguments: '{"id": "00000057"}', call_id: "c2" }],
    [{ type: "function_call", name: "email_reply_email", arguments: '{"email_id": "00000057", "body": "Thanks for the update - I will get back to you tomorrow."}', call_id: "c3" }],
    [{ type: "message", role: "assistant", content: [{ type: "output_text", text: "Done.", annotations: [] }], id: "m", status: "completed" }],
  ];
  const seen: Json[] = [];
  const model = defineServer({
    serverType: "responses_api_models",
    className: "ScriptedModel",
    routes: () => [
      {
        method: "POST",
        path: "/v1/responses",
        handler: (req) => {
          seen.push(req.body as Json);
          return { ...response(script[seen.length - 1] ?? script[3]!) };
        },
      },
    ],
  });
  const g = await startInProcess([VLLM_CONFIG, envConfig("workplace_assistant")], OVERRIDES, { policy_model: model });
  try {
    const res = await post(`${g.url("workplace_assistant_simple_agent")}/run`, row);
    expect(res.status).toBe(200);
    expect(res.json.reward).toBe(1);
    const outputs = ((res.json.response as { output: Json[] }).output).filter((o) => o.type === "function_call_output").map((o) => String(o.output));
    expect(outputs).toHaveLength(3);
    expect(outputs[0]).toContain("Invalid tool call arguments");
    expect(outputs[1]).toBe(JSON.stringify({ output: "Error executing tool 'email_reply_email': EmailTool.reply_email() got an unexpected keyword argument 'id'" }));
    expect(outputs[2]).toBe(JSON.stringify({ output: "Email replied successfully." }));
    expect(seen).toHaveLength(4); // the model saw each error and was asked again
  } finally {
    await g.close();
  }
});
