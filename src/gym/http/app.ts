/**
 * A tiny JSON-over-HTTP app on Node's `http` module: exact-path routes, JSON bodies validated at
 * the door, errors rendered in one place (always JSON, 4xx for bad input, the server keeps
 * serving), an optional per-server session cookie set on every response, and NeMo Gym's
 * `/ng-rollout/<id>/` correlation prefix stripped before routing.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { z } from "zod";
import {
  drainBounded,
  GYM_MAX_BODY_BYTES,
  HttpPolicyError,
  isNestingOverflow,
  readJsonBody,
  secretMatches,
  serverOptions,
  type HttpTimeouts,
} from "../../server/http-policy.ts";
import { parseCookieHeader, serializeSetCookie } from "./cookies.ts";
import { HttpError, renderError, validationError, type ErrorStyle } from "./errors.ts";

export interface RequestContext {
  method: string;
  /** Path after prefix stripping, without the query string. */
  path: string;
  headers: IncomingMessage["headers"];
  cookies: Record<string, string>;
  /** This server's session id (from its cookie, or new). Empty when the app has no sessions. */
  sessionId: string;
  /** Extra cookies to set on the response (an agent hands back its targets' cookies). */
  setCookies: Record<string, string>;
  /** The parsed JSON body (undefined when the request had none). */
  body: unknown;
  /** Aborted when the client goes away, so long calls can stop early. */
  signal: AbortSignal;
  errorStyle: ErrorStyle;
  /** Parse the body with a schema; throws a 422 (or 400 in OpenAI style) naming the bad fields. */
  parse<T extends z.ZodType>(schema: T): z.infer<T>;
}

/** A handler returns the JSON body (status 200), or a Reply for another status. */
export type Handler = (ctx: RequestContext) => unknown;
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

export interface Route {
  method: "GET" | "POST";
  path: string;
  handler: Handler;
  errorStyle?: ErrorStyle;
}

export interface AppOptions {
  routes: Route[];
  /** Name of this server's session cookie; omit for no sessions (the head server). */
  sessionCookie?: string;
  /** Largest accepted body (default GYM_MAX_BODY_BYTES, 64 MiB: training payloads carry token ids). */
  maxBodyBytes?: number;
  /** Shared secret the launcher hands its children; when set, every route but `GET /` needs it in SECRET_HEADER. */
  secret?: string;
  /** Called with every 5xx cause, for the server's log. */
  onError?: (e: unknown, ctx: { method: string; path: string }) => void;
}

/** The header carrying the Gym shared secret (a gymrl extension; NeMo Gym has none). */
export const SECRET_HEADER = "x-gymrl-secret";

const ROLLOUT_PREFIX = /^\/ng-rollout\/[A-Za-z0-9][A-Za-z0-9._-]*(\/training-token-capture)?(?=\/)/;
const SESSION_ID = /^[A-Za-z0-9-]{8,64}$/;

export function createApp(opts: AppOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const byPath = new Map<string, Map<string, Route>>();
  for (const r of opts.routes) {
    if (!byPath.has(r.path)) byPath.set(r.path, new Map());
    byPath.get(r.path)!.set(r.method, r);
  }
  const maxBody = opts.maxBodyBytes ?? GYM_MAX_BODY_BYTES;
  const onError = opts.onError ?? ((e) => console.error(e));

  return (req, res) => {
    void handle(req, res);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = (q >= 0 ? url.slice(0, q) : url).replace(ROLLOUT_PREFIX, "");
    const method = req.method ?? "GET";
    const route = byPath.get(path)?.get(method);
    const style: ErrorStyle = route?.errorStyle ?? (path.startsWith("/v1/") ? "openai" : "detail");
    const cookies = parseCookieHeader(req.headers.cookie);
    const own = opts.sessionCookie ? cookies[opts.sessionCookie] : undefined;
    const sessionId = opts.sessionCookie ? (own && SESSION_ID.test(own) ? own : randomUUID()) : "";
    const abort = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    const ctx: RequestContext = {
      method,
      path,
      headers: req.headers,
      cookies,
      sessionId,
      setCookies: {},
      body: undefined,
      signal: abort.signal,
      errorStyle: style,
      parse(schema) {
        const r = schema.safeParse(ctx.body);
        if (!r.success) throw validationError(r.error, style);
        return r.data;
      },
    };
    let status = 200;
    let body: unknown;
    try {
      if (!route) {
        if (!(await drainBounded(req))) res.setHeader("connection", "close");
        throw byPath.has(path)
          ? new HttpError(405, "Method Not Allowed", "invalid_request_error")
          : new HttpError(404, "Not Found", "not_found_error");
      }
      if (opts.secret && path !== "/" && !secretMatches(headerValue(req.headers[SECRET_HEADER]), opts.secret)) {
        if (!(await drainBounded(req))) res.setHeader("connection", "close");
        throw new HttpError(401, `missing or wrong Gym secret (send the ${SECRET_HEADER} header)`, "authentication_error");
      }
      ctx.body = await readJsonBody(req, maxBody, style === "openai" ? 400 : 422).catch((e: unknown) => {
        if (!(e instanceof HttpPolicyError)) throw e;
        const detail = e.status === 413 ? undefined : [{ type: "json_invalid", loc: ["body"], msg: e.message }];
        throw new HttpError(e.status, e.message, e.type, detail);
      });
      const out = await route.handler(ctx);
      if (out instanceof Reply) {
        status = out.status;
        body = out.body;
      } else {
        body = out;
      }
    } catch (e) {
      const he =
        e instanceof HttpError
          ? e
          : isNestingOverflow(e)
            ? new HttpError(style === "openai" ? 400 : 422, "request body is nested too deeply")
            : new HttpError(500, `${(e as Error)?.name ?? "Error"}: ${(e as Error)?.message ?? String(e)}`);
      if (he.status >= 500) onError(e, { method, path });
      status = he.status;
      body = renderError(he, style);
    }
    if (res.destroyed) return;
    const headers: Record<string, string | string[]> = { "content-type": "application/json" };
    const setCookie: string[] = [];
    if (opts.sessionCookie) setCookie.push(serializeSetCookie(opts.sessionCookie, sessionId));
    for (const [k, v] of Object.entries(ctx.setCookies)) if (k !== opts.sessionCookie) setCookie.push(serializeSetCookie(k, v));
    if (setCookie.length > 0) headers["set-cookie"] = setCookie;
    // A body left unread (over the limit) is not read on: the connection closes after the answer.
    if (!req.complete) headers.connection = "close";
    const text = JSON.stringify(body ?? null);
    res.writeHead(status, headers);
    res.end(text);
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export interface Listening {
  server: Server;
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Listen on host:port (port 0 = any free port), with http-policy's receive timeouts: a slow sender
 * cannot hold a connection open. Keep-alive stays long, since Gym callers pool connections.
 */
export function listen(handler: ReturnType<typeof createApp>, host: string, port: number, timeouts?: Partial<HttpTimeouts>): Promise<Listening> {
  const server = createServer(serverOptions(timeouts), handler);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      const addr = server.address() as AddressInfo;
      const h = host.includes(":") ? `[${host}]` : host;
      resolve({
        server,
        host,
        port: addr.port,
        url: `http://${h}:${addr.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
