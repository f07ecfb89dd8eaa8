/**
 * The six analytics tools (upstream `workplace_assistant_tools/analytics.py`, class AnalyticsTool).
 * Counts are per visit date in ascending order (pandas groupby); date bounds compare as strings.
 */
import { PyError, pyType } from "../py.ts";
import type { Sandbox } from "../sandbox.ts";
import type { Row } from "../table.ts";
import { pyStr, type Kwargs, type ToolImpl } from "./common.ts";
import { truthy } from "../py.ts";

const cls = "AnalyticsTool";
const PLOT_VALUES = ["total_visits", "session_duration_seconds", "user_engaged", "visits_direct", "visits_referral", "visits_search_engine", "visits_social_media"];
const PLOT_TYPES = ["bar", "line", "scatter", "histogram"];

/** `data[data["date_of_visit"] >= time_min]` and `<= time_max`: string comparison, a TypeError for other types. */
function inRange(sb: Sandbox, timeMin: unknown, timeMax: unknown): Row[] {
  const check = (v: unknown, op: string) => {
    if (typeof v !== "string") throw new PyError(`'${op}' not supported between instances of 'str' and '${pyType(v)}'`);
    return v;
  };
  let rows = sb.analytics.rows;
  if (truthy(timeMin)) {
    const lo = check(timeMin, ">=");
    rows = rows.filter((r) => String(r.cells.date_of_visit) >= lo);
  }
  if (truthy(timeMax)) {
    const hi = check(timeMax, "<=");
    rows = rows.filter((r) => String(r.cells.date_of_visit) <= hi);
  }
  return rows;
}

/** groupby("date_of_visit") → {date: f(rows of that date)}, dates ascending. */
function perDate(rows: Row[], f: (rs: Row[]) => number): Record<string, number> {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const d = String(r.cells.date_of_visit);
    if (!groups.has(d)) groups.set(d, []);
    groups.get(d)!.push(r);
  }
  return Object.fromEntries([...groups.keys()].sort().map((d) => [d, f(groups.get(d)!)]));
}

export const analyticsTools: Record<string, ToolImpl> = {
  analytics_get_visitor_information_by_id: {
    cls,
    method: "get_visitor_information_by_id",
    params: ["visitor_id"],
    run(sb, { visitor_id }: Kwargs) {
      if (!truthy(visitor_id)) return "Visitor ID not provided.";
      const rows = sb.analytics.rows.filter((r) => r.cells.visitor_id === visitor_id);
      if (rows.length === 0) return "Visitor not found.";
      const records = sb.analytics.records(rows);
      if (sb.durationsAreFloat) for (const r of records) r.session_duration_seconds = Number(r.session_duration_seconds);
      return records;
    },
  },
  analytics_create_plot: {
    cls,
    method: "create_plot",
    params: ["time_min", "time_max", "value_to_plot", "plot_type"],
    run(sb, { time_min, time_max, value_to_plot, plot_type }: Kwargs) {
      if (!truthy(time_min)) return "Start date not provided.";
      if (!truthy(time_max)) return "End date not provided.";
      if (typeof value_to_plot !== "string" || !PLOT_VALUES.includes(value_to_plot)) {
        return `Value to plot must be one of ${PLOT_VALUES.map((v) => `'${v}'`).join(", ")}`;
      }
      if (typeof plot_type !== "string" || !PLOT_TYPES.includes(plot_type)) return "Plot type must be one of 'bar', 'line', 'scatter', or 'histogram'";
      const filePath = `plots/${pyStr(time_min)}_${pyStr(time_max)}_${value_to_plot}_${plot_type}.png`;
      sb.plots.appendAtLength({ file_path: filePath });
      return filePath;
    },
  },
  analytics_total_visits_count: {
    cls,
    method: "total_visits_count",
    params: ["time_min", "time_max"],
    run: (sb, { time_min, time_max }: Kwargs) => perDate(inRange(sb, time_min, time_max), (rs) => rs.length),
  },
  analytics_engaged_users_count: {
    cls,
    method: "engaged_users_count",
    params: ["time_min", "time_max"],
    run: (sb, { time_min, time_max }: Kwargs) => perDate(inRange(sb, time_min, time_max), (rs) => rs.filter((r) => r.cells.user_engaged === true).length),
  },
  analytics_traffic_source_count: {
    cls,
    method: "traffic_source_count",
    params: ["time_min", "time_max", "traffic_source"],
    run(sb, { time_min, time_max, traffic_source }: Kwargs) {
      const rows = inRange(sb, time_min, time_max);
      if (!truthy(traffic_source)) return perDate(rows, (rs) => rs.length);
      return perDate(rows, (rs) => rs.filter((r) => r.cells.traffic_source === traffic_source).length);
    },
  },
  analytics_get_average_session_duration: {
    cls,
    method: "get_average_session_duration",
    params: ["time_min", "time_max"],
    run(sb, { time_min, time_max }: Kwargs) {
      const rows = inRange(sb, time_min, time_max);
      // without bounds upstream converts the sandbox's own column (see Sandbox.durationsAreFloat)
      if (!truthy(time_min) && !truthy(time_max)) sb.durationsAreFloat = true;
      return perDate(rows, (rs) => rs.reduce((s, r) => s + Number(r.cells.session_duration_seconds), 0) / rs.length);
    },
  },
};
