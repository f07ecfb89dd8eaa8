/**
 * One HTTP call with a deadline and bounded retries: connection errors (refused, reset, closed)
 * and 502/503/504 are retried with exponential backoff plus jitter, a fixed number of times; a
 * timeout is not retried. NeMo Gym retries such failures forever (Gym #2216, NeMo RL #3589), which
 * parks a rollout on a dead server; here the caller gets an error naming the server instead.
 *
 * undici's own `fetch` and `Agent` are used as a pair: Node 20's global fetch is undici too, but
 * does not export the Agent needed to size the keep-alive pool.
 */
import { Agent, fetch, type Dispatcher } from "undici";
import { GymConnectionError } from "../errors.ts";
import { parseSetCookies } from "./cookies.ts";

export interface CallOptions {
  /** Per-call deadline in ms (default 600 s: a model call on a long generation can be slow). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 3). 0 for calls that must not repeat. */
  maxRetries?: number;
  /** First backoff in ms (default 250), doubled each retry, capped at maxBackoffMs (default 4000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Caller's cancellation. */
  signal?: AbortSignal;
  /** Gym shared secret, sent in the x-gymrl-secret header (servers started with one require it). */
  secret?: string;
}

export interface HttpResult {
  status: number;
  text: string;
  /** Cookies set by the response (name → value). */
  setCookies: Record<string, string>;
  json<T = unknown>(): T;
}

const RETRY_STATUS = new Set([502, 503, 504]);

let sharedAgent: Agent | undefined;
let agentConnections = 1024;

/**
 * The process-wide keep-alive pool. `connectionsPerOrigin` mirrors NeMo Gym's
 * global_aiohttp_connector_limit_per_host (1024 by default); call before the first request to change it.
 */
export function httpAgent(connectionsPerOrigin?: number): Dispatcher {
  if (connectionsPerOrigin !== undefined && connectionsPerOrigin !== agentConnections) {
    agentConnections = connectionsPerOrigin;
    void sharedAgent?.close();
    sharedAgent = undefined;
  }
  sharedAgent ??= new Agent({
    connections: agentConnections,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    // Deadlines come from the per-call AbortSignal, not undici's own timers.
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { timeout: 10_000 },
  });
  return sharedAgent;
}

/** POST/GET `url` on behalf of `label` (a server name, used in errors). */
export async function callWithRetry(
  label: string,
  url: string,
  init: { method: "GET" | "POST"; json?: unknown; body?: string; headers?: Record<string, string> },
  opts: CallOptions = {},
): Promise<HttpResult> {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const maxRetries = opts.maxRetries ?? 3;
  const backoff = opts.backoffMs ?? 250;
  const maxBackoff = opts.maxBackoffMs ?? 4000;
  const body = init.body ?? (init.json === undefined ? undefined : JSON.stringify(init.json));
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (body !== undefined) headers["content-type"] ??= "application/json";
  if (opts.secret) headers["x-gymrl-secret"] = opts.secret;

  let lastCause = "";
  for (let attempt = 0; ; attempt++) {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    try {
      const res = await fetch(url, { method: init.method, headers, body, signal, dispatcher: httpAgent() });
      const text = await res.text();
      if (RETRY_STATUS.has(res.status) && attempt < maxRetries) {
        lastCause = `HTTP ${res.status}`;
        await sleep(delay(attempt, backoff, maxBackoff), opts.signal);
        continue;
      }
      const setCookies = parseSetCookies(res.headers.getSetCookie());
      return { status: res.status, text, setCookies, json: <T>() => JSON.parse(text) as T };
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      if (timeout.aborted) throw new GymConnectionError(label, url, attempt + 1, `no answer within ${timeoutMs} ms`);
      lastCause = describeNetworkError(e);
      if (attempt >= maxRetries) throw new GymConnectionError(label, url, attempt + 1, lastCause);
      await sleep(delay(attempt, backoff, maxBackoff), opts.signal);
    }
  }
}

function delay(attempt: number, base: number, cap: number): number {
  const d = Math.min(base * 2 ** attempt, cap);
  return d * (1 - Math.random() * 0.25);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

/** "connect ECONNREFUSED 127.0.0.1:1234" rather than undici's bare "fetch failed". */
export function describeNetworkError(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err.cause;
  if (cause?.code && cause.message) return cause.message.includes(cause.code) ? cause.message : `${cause.code}: ${cause.message}`;
  return cause?.message ?? err.message ?? String(e);
}
