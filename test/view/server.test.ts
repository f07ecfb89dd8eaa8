/**
 * The view server's API over real run directories (written with the real writers): what it reads,
 * what it says is missing or cut, the 4xx it gives to bad requests, and that it keeps answering.
 * The page itself is driven in a browser in browser.test.ts.
 */
import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startViewServer, type ViewServer } from "../../src/view/index.ts";
import { metricsLine, writeFixtureRun, type FixtureRun } from "./fixture-run.ts";

let run: FixtureRun;
let broken: string;
let server: ViewServer;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of several shapes, checked by the assertions
async function get(path: string, method = "GET"): Promise<{ status: number; body: any; type: string }> {
  const r = await fetch(new URL(path, server.url), { method });
  const text = await r.text();
  const type = r.headers.get("content-type") ?? "";
  return { status: r.status, body: type.includes("json") ? JSON.parse(text) : text, type };
}

beforeAll(async () => {
  run = writeFixtureRun(5);
  // a run cut by a crash: half a metrics line at the end, no rollouts/ folder
  broken = mkdtempSync(join(tmpdir(), "gymrl-view-broken-"));
  writeFileSync(join(broken, "metrics.jsonl"), [1, 2].map((s) => JSON.stringify(metricsLine(s)) + "\n").join("") + JSON.stringify(metricsLine(3)).slice(0, 30));
  server = await startViewServer({ runs: [run.dir, broken, join(broken, "nope")], pollMs: 50 });
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe("view server", () => {
  it("binds 127.0.0.1 by default", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("lists the runs, and serves the page and uPlot from node_modules", async () => {
    const runs = await get("/api/runs");
    expect(runs.body.map((r: { id: number }) => r.id)).toEqual([0, 1, 2]);
    expect((await get("/")).body).toContain("/vendor/uPlot.iife.min.js");
    const u = await get("/vendor/uPlot.iife.min.js");
    expect(u.status).toBe(200);
    expect(u.body).toContain("uPlot");
    expect((await get("/app.js")).type).toContain("javascript");
  });

  it("a whole run: every metrics line, every step, a step's records", async () => {
    const m = await get("/api/runs/0/metrics");
    expect(m.body.problems).toEqual([]);
    expect(m.body.lines.map((l: { step: number }) => l.step)).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await get("/api/runs/0/steps")).body).toEqual({ steps: [1, 2, 3, 4, 5], problems: [] });
    const r = await get("/api/runs/0/rollouts/3");
    expect(r.body.records).toHaveLength(4);
    const rec = r.body.records[0];
    expect(rec.samples[0].ids).toHaveLength(run.tokens.get("0:0")!);
    expect(rec.extra).toEqual({ extracted_answer: "3" });
  });

  it("a cut last line and a missing folder are reported beside what could be read", async () => {
    const m = await get("/api/runs/1/metrics");
    expect(m.status).toBe(200);
    expect(m.body.lines.map((l: { step: number }) => l.step)).toEqual([1, 2]);
    expect(m.body.problems.join("\n")).toMatch(/metrics\.jsonl: the last line is cut/);
    const s = await get("/api/runs/1/steps");
    expect(s.body.steps).toEqual([]);
    expect(s.body.problems.join("\n")).toMatch(/rollouts\/ is missing/);
    const gone = await get("/api/runs/2/metrics");
    expect(gone.body.problems.join("\n")).toMatch(/does not exist/);
  });

  it("bad requests get a 4xx naming the parameter, and the server keeps answering", async () => {
    const cases: [string, number, RegExp][] = [
      ["/api/runs/7/metrics", 400, /^run: /],
      ["/api/runs/x/steps", 400, /^run: /],
      ["/api/runs/0/rollouts/abc", 400, /^step: /],
      ["/api/runs/0/rollouts/99", 404, /^step: .*step 99/],
      ["/api/runs/1/rollouts/1", 404, /^step: /],
      ["/api/nothing", 404, /no API route/],
      ["/api/runs/0/rollouts/%E0%A4%A", 400, /URI/],
      ["/../../etc/passwd", 404, /not found/],
    ];
    for (const [path, status, msg] of cases) {
      const r = await get(path);
      expect([path, r.status]).toEqual([path, status]);
      expect(r.body.error).toMatch(msg);
    }
    expect((await get("/api/runs", "POST")).status).toBe(405);
    // a damaged step file: the lines that parse, and a problem for the rest
    appendFileSync(join(run.dir, "rollouts", "step_000002.jsonl"), '{"step": 2, "gro');
    const r = await get("/api/runs/0/rollouts/2");
    expect(r.body.records).toHaveLength(4);
    expect(r.body.problems).toEqual(["step 2: 1 line(s) of its rollouts file are not JSON; they are left out"]);
    expect((await get("/api/runs")).status).toBe(200);
  });

  it("server-sent events: appending a metrics line announces a change of that run", async () => {
    const events: string[] = [];
    const req = request(new URL("/api/events", server.url));
    const got = new Promise<void>((resolve) => {
      req.on("response", (res) => {
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          events.push(chunk);
          if (events.join("").includes("event: change")) resolve();
        });
        // the stream is open: now the run grows
        setTimeout(() => appendFileSync(join(run.dir, "metrics.jsonl"), JSON.stringify(metricsLine(6)) + "\n"), 150);
      });
    });
    req.end();
    await got;
    req.destroy();
    expect(events.join("")).toContain('event: change\ndata: {"run":0}');
  }, 20_000);
});
