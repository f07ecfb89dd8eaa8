/**
 * Fuzz one server: send generated hostile bodies round-robin to its endpoints over raw node:http
 * (so an early 413 with the body half-sent is still read), and check each answer is a 4xx JSON
 * error in the server's own shape within `timeoutMs`; every 200 bodies, and at the end, the
 * server must still answer a valid request.
 */
import fc from "fast-check";
import { request } from "node:http";
import { hostileBody, type FuzzBody } from "./bodies.ts";
import type { ErrorShape, FuzzTarget } from "./targets.ts";

export interface FuzzReport {
  server: string;
  endpoints: number;
  bodies_tried: number;
  /** Well-formed JSON objects the endpoint accepted (2xx): allowed, since unknown fields are. */
  accepted: number;
  /** No answer at all, or the server stopped answering valid requests. */
  crashes: number;
  /** Answers that were not a 4xx JSON error in the server's shape (and not an allowed 2xx). */
  non_4xx: number;
  slowest_ms: number;
  still_serves: boolean;
  /** Up to five failures, for the log. */
  examples: string[];
}

interface Answer {
  status: number;
  text: string;
  ms: number;
}

function send(url: string, method: string, body: Buffer, timeoutMs: number): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { "content-type": "application/json", "content-length": body.length }, timeout: timeoutMs, agent: false });
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), ms: performance.now() - started }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    // a server that answers before reading the whole body may close while we still write: not a failure
    req.on("error", (e) => {
      if (!answered) reject(e);
    });
    req.end(body);
  });
}

export function checkErrorShape(text: string, status: number, shape: ErrorShape): string | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "answer is not JSON";
  }
  const o = v as Record<string, unknown> | null;
  if (shape === "detail") return o && typeof o === "object" && "detail" in o ? null : "no detail field";
  const e = o?.error as Record<string, unknown> | undefined;
  if (!e || typeof e.message !== "string" || typeof e.type !== "string" || !("param" in e) || e.code !== status) return "not {error:{message,type,param,code}}";
  return null;
}

export async function fuzzTarget(target: FuzzTarget, opts: { bodies: number; bodyLimit: number; seed: number; timeoutMs?: number }): Promise<FuzzReport> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const report: FuzzReport = { server: target.name, endpoints: target.endpoints.length, bodies_tried: 0, accepted: 0, crashes: 0, non_4xx: 0, slowest_ms: 0, still_serves: false, examples: [] };
  const note = (s: string) => void (report.examples.length < 5 && report.examples.push(s));
  const bodies: FuzzBody[] = fc.sample(hostileBody(opts.bodyLimit), { numRuns: opts.bodies, seed: opts.seed });
  const stillServes = async () => {
    try {
      await target.checkValid();
      return true;
    } catch (e) {
      note(`valid request failed: ${(e as Error).message}`);
      return false;
    }
  };
  for (let i = 0; i < bodies.length; i++) {
    const body = bodies[i];
    const ep = target.endpoints[i % target.endpoints.length];
    report.bodies_tried++;
    let a: Answer;
    try {
      a = await send(`${target.baseUrl}${ep.path}`, "POST", body.bytes, timeoutMs);
    } catch (e) {
      report.crashes++;
      note(`${body.kind} → POST ${ep.path}: ${(e as Error).message}`);
      continue;
    }
    report.slowest_ms = Math.max(report.slowest_ms, Math.round(a.ms));
    if (a.status >= 200 && a.status < 300 && body.mayBeAccepted && ep.method === "POST") {
      report.accepted++;
      continue;
    }
    const bad = a.status < 400 || a.status >= 500 ? `HTTP ${a.status}` : checkErrorShape(a.text, a.status, ep.shape);
    if (bad) {
      report.non_4xx++;
      note(`${body.kind} → POST ${ep.path}: ${bad}: ${a.text.slice(0, 160)}`);
    }
    if ((i + 1) % 200 === 0 && !(await stillServes())) report.crashes++;
  }
  report.still_serves = await stillServes();
  if (!report.still_serves) report.crashes++;
  return report;
}
