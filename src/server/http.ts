/**
 * A small JSON-over-HTTP layer on node:http: routing by method and path, and OpenAI-shaped errors;
 * limits, timeouts, body decoding and the key check are http-policy.ts's, shared with the Gym servers. Kept dependency-free because the server's
 * per-request overhead is a measured figure (bench:server).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { OpenAIHttpError } from "./errors.ts";
import { bearerMatches, drainBounded, HttpPolicyError, isNestingOverflow, readJsonBody, serverOptions, type HttpTimeouts } from "./http-policy.ts";

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Parsed JSON body (POST) or undefined. */
  body: unknown;
  /** Aborted when the client goes away before the answer is complete. */
  signal: AbortSignal;
}

/** A handler returns a JSON value to send with 200, or takes over `res` itself and returns undefined. */
export type Handler = (ctx: RequestContext) => Promise<unknown> | unknown;

export interface JsonServerOptions {
  routes: Record<string, Handler>; // key: "POST /v1/chat/completions"
  maxBodyBytes: number;
  apiKey?: string;
  /** Paths reachable without the API key (health probes). */
  publicPaths?: readonly string[];
  /** POST paths whose body may be empty (control calls such as vLLM's /resume); the handler sees undefined. */
  optionalBodyPaths?: readonly string[];
  /** Receive timeouts (http-policy.ts DEFAULT_TIMEOUTS unless given). */
  timeouts?: Partial<HttpTimeouts>;
}

export function createJsonServer(options: JsonServerOptions): Server {
  const { routes, maxBodyBytes, apiKey } = options;
  const publicPaths = new Set(options.publicPaths ?? []);
  const optionalBody = new Set(options.optionalBodyPaths ?? []);
  const knownPaths = new Set(Object.keys(routes).map((k) => k.slice(k.indexOf(" ") + 1)));

  const server = createServer(serverOptions(options.timeouts), (req, res) => {
    const abort = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    void handle(req, res, abort.signal).catch((err: unknown) => sendError(req, res, toHttpError(err)));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal) {
    const path = (req.url ?? "/").split("?")[0];
    const handler = routes[`${req.method} ${path}`];
    if (!handler) {
      await refuse(req, res);
      throw knownPaths.has(path)
        ? new OpenAIHttpError(405, `method ${req.method} not allowed on ${path}`)
        : new OpenAIHttpError(404, `no route ${req.method} ${path}`, "not_found_error");
    }
    if (apiKey && !publicPaths.has(path) && !bearerMatches(req.headers.authorization, apiKey)) {
      await refuse(req, res);
      throw new OpenAIHttpError(401, "missing or wrong API key (send Authorization: Bearer <key>)", "authentication_error");
    }
    let body: unknown;
    if (req.method === "POST") {
      body = await readJsonBody(req, maxBodyBytes);
      if (body === undefined && !optionalBody.has(path)) throw new OpenAIHttpError(400, "request body is empty; expected a JSON object");
    }
    const result = await handler({ req, res, body, signal });
    if (result !== undefined && !res.headersSent) sendJson(res, 200, result);
  }
  return server;
}

/** Drop an unwanted body, bounded; past the bound the answer closes the connection instead. */
async function refuse(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!(await drainBounded(req))) res.setHeader("connection", "close");
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(req: IncomingMessage, res: ServerResponse, err: OpenAIHttpError): void {
  if (res.headersSent) {
    // Mid-stream failure: all we can do is end the stream with an error event.
    if (!res.writableEnded) res.end(`data: ${JSON.stringify(err.toBody())}\n\n`);
    return;
  }
  // A body left unread (over the limit) is not read on: the connection closes after the answer.
  if (!req.complete) res.setHeader("connection", "close");
  sendJson(res, err.status, err.toBody());
}

function toHttpError(err: unknown): OpenAIHttpError {
  if (err instanceof OpenAIHttpError) return err;
  if (err instanceof HttpPolicyError) return new OpenAIHttpError(err.status, err.message, err.type);
  if (isNestingOverflow(err)) return new OpenAIHttpError(400, "request body is nested too deeply");
  const message = err instanceof Error ? err.message : String(err);
  return new OpenAIHttpError(500, `internal error: ${message}`);
}

/** Listen and resolve with the bound base URL (port 0 picks a free port). */
export function listen(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const addr = server.address() as AddressInfo;
      const h = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
      resolve(`http://${h}:${addr.port}`);
    });
  });
}
