/**
 * One HTTP policy for every server gymrl runs: the OpenAI server (server/http.ts) and the Gym
 * servers (gym/http/app.ts) are thin adapters over it. It owns body limits, timeouts, the
 * bearer/secret check, bounded draining of unread bodies, the JSON body decode and the bind rule.
 * It lives in the server layer because that is the lowest layer both adapters may import.
 */
import { isUtf8 } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerOptions } from "node:http";

/** Largest request body of the OpenAI server: long multi-turn histories with token ids. */
export const OPENAI_MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Largest request body of a Gym server: /verify echoes a whole rollout with its token ids. */
export const GYM_MAX_BODY_BYTES = 64 * 1024 * 1024;
/** How much of an unwanted body (401/404/405) is read before the connection is closed instead. */
export const DRAIN_LIMIT_BYTES = 64 * 1024;

export interface HttpTimeouts {
  /** The whole request (headers and body) must arrive within this; slow senders are cut off. */
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** How often node checks the two timeouts above. */
  checkIntervalMs: number;
}

/** Handler time is not bounded here (a generation may be long); only receiving the request is. */
export const DEFAULT_TIMEOUTS: HttpTimeouts = {
  requestTimeoutMs: 120_000,
  headersTimeoutMs: 30_000,
  keepAliveTimeoutMs: 65_000,
  checkIntervalMs: 5_000,
};

/** node:http server options for these timeouts. */
export function serverOptions(t: Partial<HttpTimeouts> = {}): ServerOptions {
  const o = { ...DEFAULT_TIMEOUTS, ...t };
  return {
    requestTimeout: o.requestTimeoutMs,
    // node requires headersTimeout <= requestTimeout
    headersTimeout: Math.min(o.headersTimeoutMs, o.requestTimeoutMs),
    keepAliveTimeout: o.keepAliveTimeoutMs,
    connectionsCheckingInterval: o.checkIntervalMs,
  };
}

/** A policy failure: each adapter renders it in its own error shape. */
export class HttpPolicyError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** OpenAI error type. */
    readonly type: "invalid_request_error" | "authentication_error" | "not_found_error" = "invalid_request_error",
  ) {
    super(message);
  }
}

/**
 * `presented === expected` in time independent of where they differ: both are hashed first, so
 * timingSafeEqual sees equal lengths and the length of the key does not leak either.
 */
export function secretMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer check of `Authorization: Bearer <key>`. */
export function bearerMatches(authorization: string | undefined, key: string): boolean {
  return secretMatches(authorization, `Bearer ${key}`);
}

/**
 * Read and drop an unwanted body, at most `limit` bytes. Returns false when the body is larger:
 * the caller then answers with `connection: close`, so a client cannot make the server read an
 * unbounded body it will never use.
 */
export function drainBounded(req: IncomingMessage, limit = DRAIN_LIMIT_BYTES): Promise<boolean> {
  if (req.readableEnded || req.complete) return Promise.resolve(true);
  if (Number(req.headers["content-length"] ?? 0) > limit) return Promise.resolve(false);
  return new Promise((resolve) => {
    let size = 0;
    const done = (ok: boolean) => {
      req.off("data", onData);
      resolve(ok);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.pause();
        done(false);
      }
    };
    req.on("data", onData);
    req.once("end", () => done(true));
    req.once("error", () => done(false));
    req.once("close", () => done(req.complete));
  });
}

/**
 * The request body as JSON, read with plain stream events (an async iterator costs more per
 * request). Over `limit` → 413; invalid UTF-8 or JSON → 400 (`invalidJsonStatus` lets FastAPI-style
 * servers answer 422); an empty body → undefined.
 */
export function readJsonBody(req: IncomingMessage, limit: number, invalidJsonStatus = 400): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    return Promise.reject(new HttpPolicyError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (err: unknown) => {
      if (!settled) reject(err);
      settled = true;
    };
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        req.pause(); // not read further; the adapter closes the connection
        return fail(new HttpPolicyError(413, `request body exceeds the limit of ${limit} bytes`));
      }
      chunks.push(chunk);
    });
    // a client that goes away (or is cut off by the request timeout) is its own error, not the server's
    const cut = () => fail(new HttpPolicyError(400, "the request was closed before its body was complete"));
    req.on("error", cut);
    req.on("close", cut);
    req.on("end", () => {
      if (settled) return;
      settled = true;
      if (size === 0) return resolve(undefined);
      const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      // toString would silently turn bad bytes into U+FFFD; refuse them as Python's json.loads does
      if (!isUtf8(buf)) return reject(new HttpPolicyError(invalidJsonStatus, "request body is not valid UTF-8"));
      const text = buf.toString("utf8");
      if (text.trim() === "") return resolve(undefined);
      try {
        resolve(JSON.parse(text) as unknown);
      } catch (e) {
        reject(new HttpPolicyError(invalidJsonStatus, `request body is not valid JSON: ${(e as Error).message}`));
      }
    });
  });
}

/** A stack overflow from a deeply nested body, which handlers walk recursively: a client error. */
export function isNestingOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) || h === "::ffff:127.0.0.1";
}

/**
 * Refuse to listen beyond loopback without a key: anyone who can reach the port could otherwise
 * drive the model (or the environment). `what` names the setting to change in the error.
 */
export function checkBind(host: string, hasKey: boolean, what: { server: string; keyHint: string }): void {
  if (hasKey || isLoopback(host)) return;
  throw new Error(
    `refusing to listen on ${host} without a key: the ${what.server} would be open to anyone who can reach this machine; ` +
      `${what.keyHint}, or bind 127.0.0.1`,
  );
}
