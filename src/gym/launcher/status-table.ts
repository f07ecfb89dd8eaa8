/** The status table printed by `gymrl gym start` and `gymrl gym status`. */
import type { ServerInstanceDisplay } from "../protocol/gym.ts";

export function formatStatusTable(rows: readonly ServerInstanceDisplay[], headUrl?: string): string {
  const header = ["NAME", "TYPE", "URL", "PID", "STATUS", "UPTIME", "PROCESS"];
  const body = rows.map((r) => [r.name, r.server_type, r.url, String(r.pid ?? "-"), r.status, `${Math.round(r.uptime_seconds)}s`, r.process_name]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [headUrl ? `head server: ${headUrl}` : "", line(header), ...body.map(line)].filter(Boolean).join("\n");
}
