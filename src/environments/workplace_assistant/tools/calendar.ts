/** The five calendar tools (upstream `workplace_assistant_tools/calendar.py`, class CalendarTool). */
import { containsMatcher, lower, pyInt, PyValueError, timestamp, truthy } from "../py.ts";
import type { Sandbox } from "../sandbox.ts";
import { cell, nextId, paginate, type Kwargs, type ToolImpl } from "./common.ts";

const cls = "CalendarTool";
const INFO_FIELDS = ["event_id", "event_name", "participant_email", "event_start", "duration"];
const UPDATE_FIELDS = ["event_name", "participant_email", "event_start", "duration"];

const isEventId = (v: unknown) => typeof v === "string" && /^\d{8}$/.test(v);

/** A ValueError from parsing becomes the tool's own answer; other exceptions propagate. */
function validTimestamp(v: unknown): boolean {
  try {
    timestamp(v);
    return true;
  } catch (e) {
    if (e instanceof PyValueError) return false;
    throw e;
  }
}

/** null when the duration is a positive number of minutes, else the tool's answer. */
function durationProblem(v: unknown): string | null {
  try {
    return pyInt(v) <= 0 ? "Duration must be a positive number of minutes." : null;
  } catch (e) {
    if (e instanceof PyValueError) return "Invalid duration format. Expected a number of minutes.";
    throw e;
  }
}

const hasEvent = (sb: Sandbox, id: unknown) => sb.calendar.rows.some((r) => r.cells.event_id === id);

export const calendarTools: Record<string, ToolImpl> = {
  calendar_get_event_information_by_id: {
    cls,
    method: "get_event_information_by_id",
    params: ["event_id", "field"],
    run(sb, { event_id, field }: Kwargs) {
      if (!truthy(event_id)) return "Event ID not provided.";
      if (!truthy(field)) return "Field not provided.";
      if (!isEventId(event_id)) return "Invalid event ID format. Expected 8-digit ID.";
      if (typeof field !== "string" || !INFO_FIELDS.includes(field)) return `Invalid field. Available fields are: ${INFO_FIELDS.join(", ")}`;
      const row = sb.calendar.rows.find((r) => r.cells.event_id === event_id);
      if (!row) return "Event not found.";
      return { [field]: sb.calendar.records([row])[0]![field] };
    },
  },
  calendar_search_events: {
    cls,
    method: "search_events",
    params: ["query", "time_min", "time_max", "page", "page_size"],
    run(sb, { query = "", time_min, time_max, page = 1, page_size = 5 }: Kwargs) {
      let min: number | undefined;
      let max: number | undefined;
      if (truthy(time_min)) {
        if (!validTimestamp(time_min)) return "Invalid time_min format. Expected YYYY-MM-DD HH:MM:SS.";
        min = timestamp(time_min);
      }
      if (truthy(time_max)) {
        if (!validTimestamp(time_max)) return "Invalid time_max format. Expected YYYY-MM-DD HH:MM:SS.";
        max = timestamp(time_max);
      }
      const matches = containsMatcher(query);
      let events = sb.calendar.records(sb.calendar.rows.filter((r) => matches(r.cells.event_name) === true || matches(r.cells.participant_email) === true));
      if (min !== undefined) events = events.filter((e) => timestamp(e.event_start) >= min);
      if (max !== undefined) events = events.filter((e) => timestamp(e.event_start) <= max);
      if (events.length === 0) return "No events found.";
      // Python's sort(reverse=True) is stable: ties keep their table order
      events = events.map((e, i) => ({ e, i, t: timestamp(e.event_start) })).sort((a, b) => b.t - a.t || a.i - b.i).map((x) => x.e);
      const p = paginate(events, page, page_size);
      return { events: p.slice, pagination: { total_events: events.length, page: p.page, page_size: p.pageSize, total_pages: p.totalPages } };
    },
  },
  calendar_create_event: {
    cls,
    method: "create_event",
    params: ["event_name", "participant_email", "event_start", "duration"],
    run(sb, { event_name, participant_email, event_start, duration }: Kwargs) {
      if (!truthy(event_name)) return "Event name not provided.";
      if (!truthy(participant_email)) return "Participant email not provided.";
      if (!truthy(event_start)) return "Event start not provided.";
      if (!truthy(duration)) return "Event duration not provided.";
      if (!validTimestamp(event_start)) return "Invalid event_start format. Expected YYYY-MM-DD HH:MM:SS.";
      const problem = durationProblem(duration);
      if (problem) return problem;
      const email = lower(participant_email);
      const id = nextId(sb.calendar.maxString("event_id"), true);
      // pd.concat without ignore_index: the new row keeps label 0 of its one-row frame
      sb.calendar.append([{ event_id: id, event_name: cell(event_name), participant_email: email, event_start: cell(event_start), duration: cell(duration) }], false);
      return id;
    },
  },
  calendar_delete_event: {
    cls,
    method: "delete_event",
    params: ["event_id"],
    run(sb, { event_id }: Kwargs) {
      if (!truthy(event_id)) return "Event ID not provided.";
      if (!isEventId(event_id)) return "Invalid event ID format. Expected 8-digit ID.";
      if (!hasEvent(sb, event_id)) return "Event not found.";
      sb.calendar.filter((r) => r.cells.event_id !== event_id);
      return "Event deleted successfully.";
    },
  },
  calendar_update_event: {
    cls,
    method: "update_event",
    params: ["event_id", "field", "new_value"],
    run(sb, { event_id, field, new_value }: Kwargs) {
      if (!truthy(event_id) || !truthy(field) || !truthy(new_value)) return "Event ID, field, or new value not provided.";
      if (!isEventId(event_id)) return "Invalid event ID format. Expected 8-digit ID.";
      if (typeof field !== "string" || !UPDATE_FIELDS.includes(field)) return `Invalid field. Available fields are: ${UPDATE_FIELDS.join(", ")}`;
      if (field === "event_start" && !validTimestamp(new_value)) return "Invalid event_start format. Expected YYYY-MM-DD HH:MM:SS.";
      if (field === "duration") {
        const problem = durationProblem(new_value);
        if (problem) return problem;
      }
      if (!hasEvent(sb, event_id)) return "Event not found.";
      const value = field === "participant_email" ? lower(new_value) : cell(new_value);
      for (const r of sb.calendar.rows) if (r.cells.event_id === event_id) r.cells[field] = value;
      return "Event updated successfully.";
    },
  },
};
