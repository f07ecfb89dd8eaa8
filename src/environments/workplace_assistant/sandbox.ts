/**
 * One session's sandbox: the five tables of upstream NeMo Gym's workplace_assistant (emails,
 * calendar events, analytics + the plots made, project tasks, CRM) and the company directory,
 * freshly copied from the CSVs in data/csv (read once per process). Tools mutate a sandbox;
 * verification builds two fresh ones.
 */
import { readFileSync } from "node:fs";
import { parseCsv } from "./csv.ts";
import { Table } from "./table.ts";

export interface Sandbox {
  emails: Table;
  calendar: Table;
  analytics: Table;
  /** `_plots_data`: one file_path per plot created. */
  plots: Table;
  tasks: Table;
  crm: Table;
  directory: string[];
  /**
   * Upstream's get_average_session_duration without bounds converts the session duration column of
   * the sandbox itself to float (it assigns to the frame, not a copy); later visitor lookups show it.
   */
  durationsAreFloat: boolean;
}

const CSV_DIR = new URL("./data/csv/", import.meta.url);

function load(name: string): Table {
  const { columns, records } = parseCsv(readFileSync(new URL(`${name}.csv`, CSV_DIR), "utf8"));
  return Table.fromRecords(columns, records);
}

let base: Sandbox | undefined;

function baseSandbox(): Sandbox {
  if (base) return base;
  const analytics = load("analytics_data");
  // reset_state: user_engaged = (column == "True"), a boolean column
  for (const r of analytics.rows) r.cells.user_engaged = r.cells.user_engaged === "True";
  const directory = parseCsv(readFileSync(new URL("email_addresses.csv", CSV_DIR), "utf8"), false).records.map((r) => String(r["0"]));
  base = {
    emails: load("emails"),
    calendar: load("calendar_events"),
    analytics,
    plots: new Table(["file_path"], []),
    tasks: load("project_tasks"),
    crm: load("customer_relationship_manager_data"),
    directory,
    durationsAreFloat: false,
  };
  return base;
}

export function newSandbox(): Sandbox {
  const b = baseSandbox();
  return {
    emails: b.emails.clone(),
    calendar: b.calendar.clone(),
    // analytics rows are never mutated in place (the float view is computed on read), so they are shared
    analytics: b.analytics,
    plots: b.plots.clone(),
    tasks: b.tasks.clone(),
    crm: b.crm.clone(),
    directory: b.directory,
    durationsAreFloat: false,
  };
}

/** The tables `/verify` compares, in upstream's order. */
export const COMPARED_TABLES = ["calendar", "emails", "plots", "tasks", "crm"] as const;
