/**
 * workplace_assistant's task generator and tools, checked independently of the code under test:
 * per-tool answers against facts read from the CSVs by hand; rows deterministic, in upstream's
 * shape, with disjoint entities across splits; every ground truth verifies 1.0 and the empty
 * response 0.0; and every demonstration, turned into the Responses output the agent would
 * produce, verifies 1.0 through the real /verify with its tool answers equal to the server's.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { newSandbox } from "../../src/environments/workplace_assistant/sandbox.ts";
import { CONFIRM_REPLY, demonstrations, generateRows, generateTasks, entitySplit } from "../../src/environments/workplace_assistant/tasks.ts";
import { callTool } from "../../src/environments/workplace_assistant/tools/index.ts";
import { TOOL_SCHEMAS, toolsFor } from "../../src/environments/workplace_assistant/tools/schemas.ts";
import { MUTATING } from "../../src/environments/workplace_assistant/templates.ts";
import { isCorrect } from "../../src/environments/workplace_assistant/verify.ts";
import { VLLM_CONFIG, nemoGymData } from "../gym/helpers/paths.ts";
import { startInProcess, type InProcessGym } from "../gym/helpers/in-process.ts";
import { demoToOutput, envConfig, post, readJsonl, responseOf, type Json } from "./helpers.ts";

const out = (name: string, args: unknown) => callTool(newSandbox(), name, args).output;

describe("tools against hand-checked CSV facts", () => {
  test("the 27 schemas are upstream's, in upstream's order", () => {
    const upstream = ((readJsonl(nemoGymData("workplace_assistant", "example.jsonl"))[0]!.responses_create_params as Json).tools as Json[]);
    expect(TOOL_SCHEMAS).toEqual(upstream);
    expect(toolsFor(["email"], "compact").map((t) => t.name)).toEqual(["company_directory_find_email_address", ...upstream.filter((t) => String(t.name).startsWith("email_")).map((t) => t.name)]);
  });

  test("directory, email, calendar", () => {
    expect(out("company_directory_find_email_address", { name: "PATEL" })).toEqual(["anaya.patel@atlas.com", "raj.patel@atlas.com"]);
    expect(out("company_directory_find_email_address", {})).toBe("Name not provided.");
    // emails.csv: 00000057 is carlos.rodriguez's, subject "Task Update on Develop prototype for report generation"
    expect(out("email_get_email_information_by_id", { email_id: "00000057", field: "sender/recipient" })).toEqual({ "sender/recipient": "carlos.rodriguez@atlas.com" });
    expect(out("email_get_email_information_by_id", { email_id: "00000057", field: "cc" })).toBe(
      "Field 'cc' not found. Available fields: email_id, inbox/outbox, sender/recipient, subject, sent_datetime, body",
    );
    const sb = newSandbox();
    // 500 emails with ids up to 00000499: the next id is int + 1, unpadded, as upstream
    expect(callTool(sb, "email_send_email", { recipient: "Kofi.Mensah@atlas.com", subject: "s", body: "b" }).output).toBe("Email sent successfully.");
    expect(sb.emails.rows.at(-1)!.cells).toMatchObject({ email_id: "500", "sender/recipient": "kofi.mensah@atlas.com", sent_datetime: "2023-11-30 23:59:00" });
    // calendar_events.csv: 300 events, ids up to 00000299
    expect(callTool(sb, "calendar_create_event", { event_name: "x", participant_email: "a@b.co", event_start: "2023-12-01 10:00:00", duration: "30" }).output).toBe("00000300");
    expect(sb.calendar.rows.at(-1)!.label).toBe(0); // pd.concat without ignore_index
    expect(out("calendar_create_event", { event_name: "x", participant_email: "a@b.co", event_start: "2023-12-01 10:00:00", duration: "-5" })).toBe("Duration must be a positive number of minutes.");
    expect(out("calendar_get_event_information_by_id", { event_id: "13", field: "event_name" })).toBe("Invalid event ID format. Expected 8-digit ID.");
    expect(out("calendar_get_event_information_by_id", { event_id: "00000013", field: "event_name" })).toEqual({ event_name: "sync up" });
  });

  test("analytics counts per day equal an independent count of the CSV", () => {
    const csv = readFileSync(new URL("../../src/environments/workplace_assistant/data/csv/analytics_data.csv", import.meta.url), "utf8").trim().split("\n").slice(1).map((l) => l.split(","));
    const day = "2023-11-28";
    const rows = csv.filter((r) => r[0] === day);
    expect(out("analytics_total_visits_count", { time_min: day, time_max: day })).toEqual({ [day]: rows.length });
    expect(out("analytics_engaged_users_count", { time_min: day, time_max: day })).toEqual({ [day]: rows.filter((r) => r[5] === "True").length });
    expect(out("analytics_traffic_source_count", { time_min: day, time_max: day, traffic_source: "direct" })).toEqual({ [day]: rows.filter((r) => r[4] === "direct").length });
    const mean = rows.reduce((s, r) => s + Number(r[3]), 0) / rows.length;
    expect((out("analytics_get_average_session_duration", { time_min: day, time_max: day }) as Record<string, number>)[day]).toBeCloseTo(mean, 12);
    expect(out("analytics_create_plot", { time_min: "2023-11-01", time_max: "2023-11-05", value_to_plot: "visits", plot_type: "bar" })).toMatch(/^Value to plot must be one of/);
  });

  test("project management and CRM", () => {
    expect(out("project_management_search_tasks", {})).toBe("No search parameters provided.");
    expect(out("project_management_search_tasks", { assigned_to_email: "not-an-email" })).toBe("Invalid email format for assigned_to_email.");
    expect(out("project_management_update_task", { task_id: "00000149", field: "board", new_value: "Backend" })).toBe("Board not valid. Please choose from: 'Back end', 'Front end', 'Design'.");
    // CRM row 00000014 is Casey Wilson, Hardware, Qualified, no phone
    const found = out("customer_relationship_manager_search_customers", { customer_name: "casey wilson" }) as Json;
    expect((found.customers as Json[])[0]).toMatchObject({ customer_id: "00000014", product_interest: "Hardware", status: "Qualified", customer_phone: null });
    expect(out("customer_relationship_manager_update_customer", { customer_id: "00000014", field: "status", new_value: "won" })).toBe(
      "Status not valid. Please choose from: 'Qualified', 'Won', 'Lost', 'Lead', 'Proposal'",
    );
  });

  test("verify is case-insensitive except for status, list_name and board", () => {
    const send = (body: string) => [{ name: "email_send_email", arguments: JSON.stringify({ recipient: "a@b.co", subject: "Hi", body }) }];
    expect(isCorrect(send("HELLO"), send("hello"))).toBe(true);
    expect(isCorrect(send("hello!"), send("hello"))).toBe(false);
    const status = (s: string) => [{ name: "customer_relationship_manager_update_customer", arguments: JSON.stringify({ customer_id: "00000014", field: "notes", new_value: s }) }];
    expect(isCorrect(status("X"), status("x"))).toBe(true);
    const list = (s: string) => [{ name: "project_management_update_task", arguments: JSON.stringify({ task_id: "00000149", field: "task_name", new_value: s }) }];
    expect(isCorrect(list("A"), list("a"))).toBe(true);
    // a delete then a send, and the reverse, leave the same rows but different index labels
    const del = { name: "email_delete_email", arguments: '{"email_id": "00000499"}' };
    const snd = send("x")[0]!;
    expect(isCorrect([del, snd], [snd, del])).toBe(false);
  });
});

describe("generator", () => {
  test("deterministic, upstream's row shape, categories in equal shares", () => {
    const a = generateRows({ split: "validation", n: 12, seed: 3, toolStyle: "compact" });
    expect(generateRows({ split: "validation", n: 12, seed: 3, toolStyle: "compact" })).toEqual(a);
    expect(generateRows({ split: "validation", n: 12, seed: 4, toolStyle: "compact" })).not.toEqual(a);
    for (const r of a) {
      expect(Object.keys(r).sort()).toEqual(["agent_ref", "category", "environment_name", "ground_truth", "responses_create_params"]);
      expect((r.responses_create_params as Json).parallel_tool_calls).toBe(false);
    }
    expect(new Set(a.map((r) => r.category)).size).toBe(6);
    const all = generateRows({ split: "train", n: 1, seed: 0, tools: "all" })[0]!;
    expect(((all.responses_create_params as Json).tools as Json[]).length).toBe(27);
  });

  test("every date a call takes is in the request as written, in double quotes (the way names are)", () => {
    let dates = 0;
    for (const t of generateTasks({ split: "train", n: 300, seed: 2 })) {
      for (const c of t.calls)
        for (const v of Object.values(c.args)) {
          const date = typeof v === "string" ? /^\d{4}-\d{2}-\d{2}/.exec(v)?.[0] : undefined;
          if (!date) continue;
          dates++;
          expect(t.prompt).toContain(`"${date}"`);
        }
      expect(t.prompt).not.toMatch(/(January|February|March|April|May|June|July|August|September|October|November|December) \d/);
    }
    expect(dates).toBeGreaterThan(100);
  });

  test("train and validation share no entity", () => {
    const train = new Set(generateTasks({ split: "train", n: 1500, seed: 0 }).map((t) => t.entity));
    const val = generateTasks({ split: "validation", n: 300, seed: 0 });
    expect(val.every((t) => entitySplit(t.entity) === "validation" && !train.has(t.entity))).toBe(true);
  });

  test("every ground truth verifies 1.0 and the empty answer 0.0", () => {
    for (const r of generateRows({ split: "validation", n: 60, seed: 1 })) {
      const gt = r.ground_truth as { name: string; arguments: string }[];
      expect(gt.length).toBeGreaterThan(0);
      expect(isCorrect(gt, gt)).toBe(true);
      expect(isCorrect([], gt)).toBe(false);
    }
  });
});

describe("demonstrations through the real server", () => {
  let gym: InProcessGym;
  beforeAll(async () => {
    gym = await startInProcess([VLLM_CONFIG, envConfig("workplace_assistant")], ["+policy_base_url=http://127.0.0.1:9/v1", "+policy_api_key=k", "+policy_model_name=m"]);
  });
  afterAll(() => gym.close());

  test("each demonstration's tool answers are the server's, and its calls verify 1.0", async () => {
    const opts = { split: "train" as const, n: 24, seed: 2, toolStyle: "compact" as const };
    const rows = generateRows(opts);
    const demos = demonstrations(opts);
    const url = gym.url("workplace_assistant");
    for (const [k, demo] of demos.entries()) {
      const seeded = await post(`${url}/seed_session`, rows[k]);
      const output = demoToOutput(demo.messages as Json[]);
      for (const call of output.filter((o) => o.type === "function_call")) {
        const res = await fetch(`${url}/${String(call.name)}`, { method: "POST", headers: { "content-type": "application/json", cookie: seeded.cookie! }, body: String(call.arguments) });
        const answer = output.find((o) => o.type === "function_call_output" && o.call_id === call.call_id)!;
        expect(await res.text()).toBe(answer.output);
      }
      const v = await post(`${url}/verify`, { ...rows[k], response: responseOf(output) }, seeded.cookie);
      expect(v.json.reward, JSON.stringify(rows[k]!.ground_truth)).toBe(1);
    }
  });

  test("askFraction: that share stops after the look-ups and asks for confirmation, which /verify scores 0", async () => {
    const opts = { split: "train" as const, n: 40, seed: 3, toolStyle: "compact" as const };
    const rows = generateRows(opts);
    const acting = demonstrations(opts);
    const mixed = demonstrations({ ...opts, askFraction: 0.5 });
    expect(demonstrations({ ...opts, askFraction: 0.5 })).toEqual(mixed); // deterministic
    expect(() => demonstrations({ ...opts, askFraction: -0.1 })).toThrow(/askFraction must be in \[0, 1\], got -0.1/);
    const asking = mixed.flatMap((d, k) => (d.messages.at(-1)!.content === CONFIRM_REPLY ? [k] : []));
    expect(asking.length).toBeGreaterThan(10);
    expect(asking.length).toBeLessThan(30);
    const url = gym.url("workplace_assistant");
    for (const [k, demo] of mixed.entries()) {
      const full = acting[k]!.messages;
      if (!asking.includes(k)) {
        expect(demo).toEqual(acting[k]);
        continue;
      }
      // the same conversation up to the first state-changing call, then the question
      const firstChange = full.findIndex((m) => m.role === "assistant" && MUTATING.test(JSON.stringify(m.tool_calls ?? "")));
      expect(demo.messages.slice(0, -1)).toEqual(full.slice(0, firstChange));
      const seeded = await post(`${url}/seed_session`, rows[k]);
      const v = await post(`${url}/verify`, { ...rows[k], response: responseOf(demoToOutput(demo.messages as Json[])) }, seeded.cookie);
      expect(v.json.reward).toBe(0);
    }
  });

  test("repeatFraction: that share makes its last change twice, with the sandbox's second answer; /verify scores 0 where the repeat adds a row", async () => {
    const opts = { split: "train" as const, n: 48, seed: 5, toolStyle: "compact" as const };
    const rows = generateRows(opts);
    const acting = demonstrations(opts);
    const mixed = demonstrations({ ...opts, repeatFraction: 0.5 });
    expect(demonstrations({ ...opts, repeatFraction: 0.5 })).toEqual(mixed); // deterministic
    expect(() => demonstrations({ ...opts, repeatFraction: 2 })).toThrow(/repeatFraction must be in \[0, 1\], got 2/);
    const callsOf = (m: Record<string, unknown>[]) =>
      m.flatMap((x) => ((x.tool_calls as { function: { name: string; arguments: string } }[] | undefined) ?? []).map((c) => c.function));
    const repeating = mixed.flatMap((d, k) => (d.messages.length > acting[k]!.messages.length ? [k] : []));
    expect(repeating.length).toBeGreaterThan(12);
    expect(repeating.length).toBeLessThan(36);
    const url = gym.url("workplace_assistant");
    const rewards = new Map<string, number[]>();
    for (const [k, demo] of mixed.entries()) {
      const once = callsOf(acting[k]!.messages);
      if (!repeating.includes(k)) {
        expect(demo).toEqual(acting[k]);
        continue;
      }
      const twice = callsOf(demo.messages);
      const last = once.findLastIndex((c) => MUTATING.test(c.name));
      expect(twice).toEqual([...once.slice(0, last + 1), once[last], ...once.slice(last + 1)]);
      expect(demo.messages.at(-1)!.content).toBe(acting[k]!.messages.at(-1)!.content);
      const seeded = await post(`${url}/seed_session`, rows[k]);
      const v = await post(`${url}/verify`, { ...rows[k], response: responseOf(demoToOutput(demo.messages as Json[])) }, seeded.cookie);
      const verb = once[last]!.name.replace(/^[a-z]+(_relationship_manager|_management|_directory)?_/, "").split("_")[0]!;
      rewards.set(verb, [...(rewards.get(verb) ?? []), v.json.reward as number]);
    }
    // a second row (an e-mail sent, forwarded or replied, a plot, an event, a task, a customer) fails
    // the table comparison; deleting again finds nothing and updating again changes nothing
    for (const [verb, rs] of rewards) expect(rs.every((r) => r === (verb === "delete" || verb === "update" ? 1 : 0))).toBe(true);
    expect([...rewards.keys()].some((v) => v !== "delete" && v !== "update")).toBe(true);
  });
});
