/**
 * The run's plot: a self-contained HTML page (inline SVG, no scripts, no network) with training
 * reward and validation accuracy over steps, written to RUN/plot.html after every step. Not a
 * charting library: two polylines on one 0..1 axis, and a table of the numbers underneath.
 */
import { writeFileSync } from "node:fs";
import type { MetricsLine } from "./metrics-log.ts";

interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function pointsOf(lines: MetricsLine[], key: string): [number, number][] {
  return lines.flatMap((l) => (typeof l[key] === "number" && typeof l.step === "number" ? [[l.step, l[key]] as [number, number]] : []));
}

/** Renders the page for a run's metrics lines (`train/reward`, `validation/accuracy` per step). */
export function renderPlot(lines: MetricsLine[], title: string): string {
  const series: Series[] = [
    { name: "train reward", color: "#1f77b4", points: pointsOf(lines, "train/reward") },
    { name: "validation accuracy", color: "#d62728", points: pointsOf(lines, "validation/accuracy") },
  ];
  const W = 720;
  const H = 360;
  const L = 50;
  const R = 20;
  const T = 20;
  const B = 40;
  const steps = series.flatMap((s) => s.points.map((p) => p[0]));
  const x0 = Math.min(0, ...steps);
  const x1 = Math.max(1, ...steps);
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => T + (1 - Math.max(0, Math.min(1, y))) * (H - T - B);
  const grid = [0, 0.25, 0.5, 0.75, 1]
    .map((y) => `<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#ddd"/><text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end" font-size="11">${y}</text>`)
    .join("");
  const xticks = Array.from(new Set([x0, Math.round((x0 + x1) / 2), x1]))
    .map((x) => `<text x="${sx(x)}" y="${H - B + 16}" text-anchor="middle" font-size="11">${x}</text>`)
    .join("");
  const paths = series
    .map((s) => {
      if (s.points.length === 0) return "";
      const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
      const dots = s.points.map(([x, y]) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}"/>`).join("");
      return `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts}"/>${dots}`;
    })
    .join("");
  const legend = series
    .map((s, i) => `<rect x="${L + 10 + i * 180}" y="${T + 4}" width="12" height="12" fill="${s.color}"/><text x="${L + 28 + i * 180}" y="${T + 14}" font-size="12">${s.name}</text>`)
    .join("");
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">` +
    `${grid}${xticks}<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle" font-size="12">step</text>` +
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>` +
    `${paths}${legend}</svg>`;
  const rows = lines
    .map((l) => {
      const cell = (k: string) => (typeof l[k] === "number" ? (l[k] as number).toFixed(3) : "");
      return `<tr><td>${l.step}</td><td>${cell("train/reward")}</td><td>${cell("validation/accuracy")}</td><td>${cell("train/loss")}</td><td>${cell("train/token_mult_prob_error")}</td><td>${cell("timing/train/total_step_time")}</td></tr>`;
    })
    .join("");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #eee}</style></head>
<body><h2>${esc(title)}</h2>${svg}
<table><tr><th>step</th><th>reward</th><th>val accuracy</th><th>loss</th><th>token_mult_prob_error</th><th>step s</th></tr>${rows}</table>
</body></html>
`;
}

export function writePlot(path: string, lines: MetricsLine[], title: string): void {
  writeFileSync(path, renderPlot(lines, title));
}
