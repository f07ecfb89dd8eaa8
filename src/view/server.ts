/**
 * The run viewer's HTTP server: one page (page/), uPlot from node_modules (no network at run
 * time), a small JSON API over the run directories and a server-sent-events stream that says when
 * a run's files changed, so an open page follows a run in progress without a reload. Binds
 * 127.0.0.1 unless told otherwise. A request never takes the server down: a bad parameter is a
 * 400 naming it, a missing step a 404, an unexpected error a 500 with its message.
 *
 *   GET /                              the page
 *   GET /app.js, /style.css            its script and style
 *   GET /vendor/uPlot.iife.min.js, /vendor/uPlot.min.css
 *   GET /api/runs                      [{ id, name, dir }]
 *   GET /api/runs/:id/metrics          { lines, problems }
 *   GET /api/runs/:id/steps            { steps, problems }
 *   GET /api/runs/:id/rollouts/:step   { records, problems }
 *   GET /api/events                    text/event-stream; `event: change` data { run }
 *
 * Not here: reading the files (run-data.ts), the page's drawing (page/app.js).
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readMetrics, readRollouts, readSteps, runFingerprint } from "./run-data.ts";

export interface ViewServerOptions {
  /** run directories, shown side by side (curves overlaid) */
  runs: string[];
  host?: string;
  /** 0 (default): a free port */
  port?: number;
  /** how often the files are checked for changes while a page listens, ms (default 500) */
  pollMs?: number;
}

export interface ViewServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface Run {
  id: number;
  name: string;
  dir: string;
}

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "page");
const require = createRequire(import.meta.url);
const UPLOT_DIR = dirname(require.resolve("uplot/package.json"));

const STATIC: Record<string, { file: string; type: string }> = {
  "/": { file: join(PAGE_DIR, "index.html"), type: "text/html; charset=utf-8" },
  "/app.js": { file: join(PAGE_DIR, "app.js"), type: "text/javascript; charset=utf-8" },
  "/style.css": { file: join(PAGE_DIR, "style.css"), type: "text/css; charset=utf-8" },
  "/vendor/uPlot.iife.min.js": { file: join(UPLOT_DIR, "dist", "uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "/vendor/uPlot.min.css": { file: join(UPLOT_DIR, "dist", "uPlot.min.css"), type: "text/css; charset=utf-8" },
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Display names: the folder name, or the whole path where two runs share one. */
function namesOf(dirs: string[]): Run[] {
  const abs = dirs.map((d) => resolve(d));
  return abs.map((dir, id) => {
    const name = basename(dir);
    return { id, dir, name: abs.filter((d) => basename(d) === name).length > 1 ? dir : name };
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

function runOf(runs: Run[], raw: string): Run {
  const id = Number(raw);
  if (!/^\d+$/.test(raw) || !runs[id]) throw new HttpError(400, `run: expected a run id 0..${runs.length - 1}, got "${raw}"`);
  return runs[id];
}

async function handleApi(runs: Run[], parts: string[], res: ServerResponse): Promise<void> {
  // parts: ["api", "runs", id, what, step?]
  if (parts.length === 2 && parts[1] === "runs") return sendJson(res, 200, runs);
  if (parts[1] !== "runs" || parts.length < 4) throw new HttpError(404, `no API route /${parts.join("/")}`);
  const run = runOf(runs, parts[2]);
  if (parts[3] === "metrics" && parts.length === 4) return sendJson(res, 200, readMetrics(run.dir));
  if (parts[3] === "steps" && parts.length === 4) return sendJson(res, 200, readSteps(run.dir));
  if (parts[3] === "rollouts" && parts.length === 5) {
    if (!/^\d+$/.test(parts[4])) throw new HttpError(400, `step: expected a step number, got "${parts[4]}"`);
    const step = Number(parts[4]);
    const r = readRollouts(run.dir, step);
    if (!r) throw new HttpError(404, `step: run ${run.name} has no rollouts file for step ${step}`);
    return sendJson(res, 200, r);
  }
  throw new HttpError(404, `no API route /${parts.join("/")}`);
}

export async function startViewServer(opts: ViewServerOptions): Promise<ViewServer> {
  if (opts.runs.length === 0) throw new Error("runs: give at least one run directory");
  const runs = namesOf(opts.runs);
  const pollMs = opts.pollMs ?? 500;

  // server-sent events: one timer checks the runs' files while any page listens
  const listeners = new Set<ServerResponse>();
  const seen = runs.map((r) => runFingerprint(r.dir));
  let timer: NodeJS.Timeout | null = null;
  const poll = () => {
    runs.forEach((r, i) => {
      const f = runFingerprint(r.dir);
      if (f === seen[i]) return;
      seen[i] = f;
      for (const l of listeners) l.write(`event: change\ndata: ${JSON.stringify({ run: r.id })}\n\n`);
    });
  };
  const listen = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
    res.write(`retry: 1000\n\n`);
    listeners.add(res);
    timer ??= setInterval(poll, pollMs);
    req.on("close", () => {
      listeners.delete(res);
      if (listeners.size === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    });
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, `method ${req.method} not allowed: the viewer only reads`);
        const path = new URL(req.url ?? "/", "http://x").pathname;
        if (path === "/api/events") return listen(req, res);
        const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
        if (parts[0] === "api") return await handleApi(runs, parts, res);
        const asset = STATIC[path];
        if (!asset) throw new HttpError(404, `not found: ${path}`);
        const body = await readFile(asset.file);
        res.writeHead(200, { "content-type": asset.type, "cache-control": "no-cache" });
        res.end(body);
      } catch (e) {
        const status = e instanceof HttpError ? e.status : e instanceof URIError ? 400 : 500;
        if (status === 500) console.error(`gymrl view: ${req.url}: ${(e as Error).stack ?? String(e)}`);
        if (!res.headersSent) sendJson(res, status, { error: (e as Error).message });
        else res.end();
      }
    })();
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => ok());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
    port: addr.port,
    close: () =>
      new Promise<void>((ok) => {
        if (timer) clearInterval(timer);
        for (const l of listeners) l.end();
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
