/**
 * Task templates in the style of WorkBench (the benchmark upstream's environment comes from): each
 * draws a target from the sandbox data and gives the user request, the whole call sequence an
 * assistant would make (look-ups, then changes) and its entity key. The ground truth is the
 * calls that change state (what /verify compares); the look-ups make the demonstrations.
 * A template returns null when its draw is ambiguous (e.g. the search would not find the target
 * first): the generator draws again.
 */
import { pick, randInt } from "../_shared/generate.ts";
import { newSandbox, type Sandbox } from "./sandbox.ts";
import type { Domain } from "./tools/schemas.ts";
import type { Cell } from "./table.ts";
import { invokeTool } from "./tools/index.ts";
import { BOARDS, LISTS } from "./tools/project-management.ts";
import { STATUSES } from "./tools/crm.ts";

export type Category = Domain | "multi_domain";
export const CATEGORIES: readonly Category[] = ["email", "calendar", "analytics", "project_management", "customer_relationship_manager", "multi_domain"];

export interface Call {
  name: string;
  args: Record<string, unknown>;
}

export interface Draft {
  /** What must not appear in both splits: the record (or new record) the task is about. */
  entity: string;
  prompt: string;
  calls: Call[];
  /** Tool domains the task needs (the row's tools when rows carry their category's tools only). */
  domains: Domain[];
}

export type Template = (rand: () => number) => Draft | null;

/** The unchanged sandbox, for drawing targets and checking that a look-up finds them. */
let data: Sandbox | undefined;
const base = () => (data ??= newSandbox());

interface Person {
  first: string;
  email: string;
}
/** "nadia.moreau@atlas.com" → Nadia: the name a user says. */
const people = (): Person[] => base().directory.map((email) => ({ email, first: email[0]!.toUpperCase() + email.slice(1, email.indexOf(".")) }));

const str = (c: Cell | undefined) => String(c ?? "");
/**
 * A value the user states, in double quotes. The assistant writes it into a JSON argument, where
 * Qwen3's tokenizer splits it as ` "`, the value's tokens, `"`: quoted the same way in the request,
 * the value and the token before it are the same tokens in both places, which is what a small
 * model's copying keys on. With single quotes or none, its first word was the one the demo model
 * got wrong (configs/sft-demo-workplace.yaml). Dates too, as the tools take them ("2023-11-15"):
 * spoken ("November 15") the day's digits follow a space in the request and a "-" in the call, and
 * the demo model sampled the days.
 */
const q = (value: string) => `"${value}"`;
/** The output of a read-only call on the unchanged sandbox. */
const look = (name: string, args: Record<string, unknown>) => invokeTool(base(), name, args);

const SUBJECTS = ["Project kickoff", "Quarterly review", "Budget update", "Team lunch", "Design feedback", "Client follow-up", "Status report", "Hiring plan", "Release notes", "Offsite agenda"];
const BODIES = ["Thanks for the update - I will get back to you tomorrow.", "Can we meet this week?", "Please send me the latest numbers.", "Looks good to me.", "Let's discuss this on Monday.", "I have shared the document with you."];
const EVENT_NAMES = ["Risk Management Forum", "Product Demo", "Budget Review", "Sprint Planning", "Client Call", "Design Sync", "Hiring Debrief", "Marketing Brainstorm"];
const PLOT_VALUES: [string, string][] = [
  ["total visits", "total_visits"],
  ["average session duration", "session_duration_seconds"],
  ["engaged users", "user_engaged"],
  ["direct visits", "visits_direct"],
  ["referral visits", "visits_referral"],
  ["search engine visits", "visits_search_engine"],
  ["social media visits", "visits_social_media"],
];
const FIRST = ["Alex", "Jordan", "Morgan", "Riley", "Jamie", "Avery", "Parker", "Rowan", "Emerson", "Finley"];
const LAST = ["Nguyen", "Okafor", "Larsen", "Costa", "Novak", "Haddad", "Moreno", "Fischer", "Sato", "Kowalski"];

// ---- email ----
const sendEmail: Template = (rand) => {
  const p = pick(rand, people());
  const subject = pick(rand, SUBJECTS);
  const body = pick(rand, BODIES);
  return {
    entity: `send:${p.email}:${subject}`,
    prompt: `Send an email to ${q(p.first)} with the subject ${q(subject)} saying ${q(body)}`,
    calls: [
      { name: "company_directory_find_email_address", args: { name: p.first } },
      { name: "email_send_email", args: { recipient: p.email, subject, body } },
    ],
    domains: ["email"],
  };
};

const replyEmail: Template = (rand) => {
  const e = pick(rand, base().emails.rows).cells;
  const first = str(e["sender/recipient"]).split(".")[0]!;
  const query = `${first} ${str(e.subject)}`;
  const found = look("email_search_emails", { query, page_size: 1 }) as { emails?: { email_id: string }[] };
  if (found.emails?.[0]?.email_id !== e.email_id) return null; // not the last such email
  const body = pick(rand, BODIES);
  return {
    entity: `email:${str(e.email_id)}`,
    prompt: `Reply to the last email from ${q(first)} about ${q(str(e.subject))} with ${q(body)}`,
    calls: [
      { name: "email_search_emails", args: { query, page_size: 1 } },
      { name: "email_reply_email", args: { email_id: e.email_id, body } },
    ],
    domains: ["email"],
  };
};

const forwardEmail: Template = (rand) => {
  const e = pick(rand, base().emails.rows).cells;
  const from = str(e["sender/recipient"]).split(".")[0]!;
  const to = pick(rand, people());
  if (to.email === e["sender/recipient"]) return null;
  const query = `${from} ${str(e.subject)}`;
  const found = look("email_search_emails", { query, page_size: 1 }) as { emails?: { email_id: string }[] };
  if (found.emails?.[0]?.email_id !== e.email_id) return null;
  return {
    entity: `email:${str(e.email_id)}`,
    prompt: `Forward the last email from ${q(from)} about ${q(str(e.subject))} to ${q(to.first)}`,
    calls: [
      { name: "email_search_emails", args: { query, page_size: 1 } },
      { name: "company_directory_find_email_address", args: { name: to.first } },
      { name: "email_forward_email", args: { email_id: e.email_id, recipient: to.email } },
    ],
    domains: ["email"],
  };
};

// ---- calendar ----
const DAYS = () => [...new Set(base().calendar.column("event_start").map((s) => str(s).slice(0, 10)))].sort();

const createEvent: Template = (rand) => {
  const p = pick(rand, people());
  const day = pick(rand, DAYS().filter((d) => d > "2023-11-30"));
  const hour = randInt(rand, 9, 16);
  const minutes = pick(rand, ["00", "30"]);
  const duration = pick(rand, ["30", "60"]);
  const name = pick(rand, EVENT_NAMES);
  const start = `${day} ${String(hour).padStart(2, "0")}:${minutes}:00`;
  return {
    entity: `event-new:${start}:${p.email}`,
    prompt: `Schedule a ${duration}-minute ${q(name)} with ${q(p.first)} on ${q(day)} at ${hour}:${minutes}`,
    calls: [
      { name: "company_directory_find_email_address", args: { name: p.first } },
      { name: "calendar_create_event", args: { event_name: name, participant_email: p.email, event_start: start, duration } },
    ],
    domains: ["calendar"],
  };
};

/** The last event of a day: what "search that day, one per page" finds first. */
function lastEventOf(day: string): { id: string; search: Record<string, unknown> } | null {
  const search = { time_min: `${day} 00:00:00`, time_max: `${day} 23:59:59`, page_size: 1 };
  const found = look("calendar_search_events", search) as { events?: { event_id: string; event_start: string }[] };
  const all = look("calendar_search_events", { ...search, page_size: 100 }) as { events?: { event_start: string }[] };
  const first = found.events?.[0];
  if (!first || all.events!.filter((e) => e.event_start === first.event_start).length > 1) return null; // a tie: ambiguous
  return { id: first.event_id, search };
}

const renameEvent: Template = (rand) => {
  const day = pick(rand, DAYS());
  const last = lastEventOf(day);
  if (!last) return null;
  const name = pick(rand, EVENT_NAMES);
  return {
    entity: `event:${last.id}`,
    prompt: `Change the name of the last event on ${q(day)} to ${q(name)}`,
    calls: [
      { name: "calendar_search_events", args: last.search },
      { name: "calendar_update_event", args: { event_id: last.id, field: "event_name", new_value: name } },
    ],
    domains: ["calendar"],
  };
};

const cancelEvent: Template = (rand) => {
  const day = pick(rand, DAYS());
  const last = lastEventOf(day);
  if (!last) return null;
  return {
    entity: `event:${last.id}`,
    prompt: `Cancel the last meeting on ${q(day)}`,
    calls: [
      { name: "calendar_search_events", args: last.search },
      { name: "calendar_delete_event", args: { event_id: last.id } },
    ],
    domains: ["calendar"],
  };
};

// ---- analytics ----
const createPlot: Template = (rand) => {
  const [spoken, value] = pick(rand, PLOT_VALUES);
  const type = pick(rand, ["bar", "line", "scatter", "histogram"]);
  const d1 = 1 + randInt(rand, 0, 20);
  const d2 = d1 + randInt(rand, 1, 9);
  const iso = (d: number) => `2023-11-${String(d).padStart(2, "0")}`;
  return {
    entity: `plot:${d1}:${d2}:${value}:${type}`,
    prompt: `Make a ${type} chart of ${spoken} from ${q(iso(d1))} to ${q(iso(d2))}`,
    calls: [{ name: "analytics_create_plot", args: { time_min: iso(d1), time_max: iso(d2), value_to_plot: value, plot_type: type } }],
    domains: ["analytics"],
  };
};

// ---- project management ----
/** A task identified by its name and its assignee: the search must find exactly it. */
function drawTask(rand: () => number): { id: string; name: string; person: Person } | null {
  const t = pick(rand, base().tasks.rows).cells;
  const person = people().find((p) => p.email === t.assigned_to_email);
  if (!person) return null;
  const found = look("project_management_search_tasks", { task_name: t.task_name, assigned_to_email: person.email }) as unknown[];
  if (found.length !== 1) return null;
  return { id: str(t.task_id), name: str(t.task_name), person };
}

const moveTask: Template = (rand) => {
  const t = drawTask(rand);
  if (!t) return null;
  const current = base().tasks.rows.find((r) => r.cells.task_id === t.id)!.cells.list_name;
  const list = pick(rand, LISTS.filter((l) => l !== current));
  return {
    entity: `task:${t.id}`,
    prompt: `Move the task ${q(t.name)} of ${q(t.person.first)} to ${q(list)}`,
    calls: [
      { name: "company_directory_find_email_address", args: { name: t.person.first } },
      { name: "project_management_search_tasks", args: { task_name: t.name, assigned_to_email: t.person.email } },
      { name: "project_management_update_task", args: { task_id: t.id, field: "list_name", new_value: list } },
    ],
    domains: ["project_management"],
  };
};

const createTask: Template = (rand) => {
  const p = pick(rand, people());
  if (!(base().tasks.column("assigned_to_email") as Cell[]).includes(p.email)) return null; // not on the team
  const name = pick(rand, base().tasks.column("task_name").map(str));
  const board = pick(rand, BOARDS);
  const list = pick(rand, LISTS);
  const due = `2023-12-${String(randInt(rand, 1, 28)).padStart(2, "0")}`;
  return {
    entity: `task-new:${name}:${p.email}`,
    prompt: `Create a task ${q(name)} for ${q(p.first)} on the board ${q(board)} in ${q(list)}, due ${q(due)}`,
    calls: [
      { name: "company_directory_find_email_address", args: { name: p.first } },
      { name: "project_management_create_task", args: { task_name: name, assigned_to_email: p.email, list_name: list, due_date: due, board } },
    ],
    domains: ["project_management"],
  };
};

// ---- CRM ----
const drawCustomer = (rand: () => number) => pick(rand, base().crm.rows).cells;

const deleteCustomer: Template = (rand) => {
  const c = drawCustomer(rand);
  const search = { customer_name: c.customer_name, page_size: 1 };
  return {
    entity: `customer:${str(c.customer_id)}`,
    prompt: `Delete ${q(str(c.customer_name))} from the crm`,
    calls: [
      { name: "customer_relationship_manager_search_customers", args: search },
      { name: "customer_relationship_manager_delete_customer", args: { customer_id: c.customer_id } },
    ],
    domains: ["customer_relationship_manager"],
  };
};

const updateStatus: Template = (rand) => {
  const c = drawCustomer(rand);
  const status = pick(rand, STATUSES.filter((s) => s !== c.status));
  return {
    entity: `customer:${str(c.customer_id)}`,
    prompt: `Change the status of ${q(str(c.customer_name))} to ${q(status)} in the crm`,
    calls: [
      { name: "customer_relationship_manager_search_customers", args: { customer_name: c.customer_name, page_size: 1 } },
      { name: "customer_relationship_manager_update_customer", args: { customer_id: c.customer_id, field: "status", new_value: status } },
    ],
    domains: ["customer_relationship_manager"],
  };
};

const addLead: Template = (rand) => {
  const name = `${pick(rand, FIRST)} ${pick(rand, LAST)}`;
  if ((base().crm.column("customer_name") as Cell[]).includes(name)) return null;
  const p = pick(rand, people());
  return {
    entity: `customer-new:${name}`,
    prompt: `Add ${q(name)} as a new lead in the crm and assign them to ${q(p.first)}`,
    calls: [
      { name: "company_directory_find_email_address", args: { name: p.first } },
      { name: "customer_relationship_manager_add_customer", args: { customer_name: name, assigned_to_email: p.email, status: "Lead" } },
    ],
    domains: ["customer_relationship_manager"],
  };
};

// ---- multi-domain ----
const moveTaskAndEmail: Template = (rand) => {
  const t = drawTask(rand);
  if (!t) return null;
  return {
    entity: `task:${t.id}`,
    prompt: `Move the task ${q(t.name)} of ${q(t.person.first)} to ${q("Completed")} and email them with the subject ${q(t.name)} saying ${q("Thanks for finishing this.")}`,
    calls: [
      { name: "company_directory_find_email_address", args: { name: t.person.first } },
      { name: "project_management_search_tasks", args: { task_name: t.name, assigned_to_email: t.person.email } },
      { name: "project_management_update_task", args: { task_id: t.id, field: "list_name", new_value: "Completed" } },
      { name: "email_send_email", args: { recipient: t.person.email, subject: t.name, body: "Thanks for finishing this." } },
    ],
    domains: ["email", "project_management"],
  };
};

const meetCustomer: Template = (rand) => {
  const c = drawCustomer(rand);
  const owner = people().find((p) => p.email === c.assigned_to_email);
  if (!owner) return null;
  const day = pick(rand, DAYS().filter((d) => d > "2023-11-30"));
  const start = `${day} 10:00:00`;
  return {
    entity: `customer:${str(c.customer_id)}`,
    prompt: `Schedule a 30-minute meeting called ${q(`${str(c.customer_name)} follow-up`)} with the owner of ${q(str(c.customer_name))} in the crm on ${q(day)} at 10:00`,
    calls: [
      { name: "customer_relationship_manager_search_customers", args: { customer_name: c.customer_name, page_size: 1 } },
      { name: "calendar_create_event", args: { event_name: `${str(c.customer_name)} follow-up`, participant_email: owner.email, event_start: start, duration: "30" } },
    ],
    domains: ["calendar", "customer_relationship_manager"],
  };
};

export const TEMPLATES: Record<Category, Template[]> = {
  email: [sendEmail, replyEmail, forwardEmail],
  calendar: [createEvent, renameEvent, cancelEvent],
  analytics: [createPlot],
  project_management: [moveTask, createTask],
  customer_relationship_manager: [deleteCustomer, updateStatus, addLead],
  multi_domain: [moveTaskAndEmail, meetCustomer],
};

/** The calls that change the sandbox: the row's ground_truth. */
export const MUTATING = /_(send|delete|forward|reply|create|update|add)_/;
