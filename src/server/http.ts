/**
 * A small JSON-over-HTTP layer on node:http: routing by method and path, a bounded body reader,
 * optional bearer-key check, and OpenAI-shaped errors. Kept dependency-free because the server's
 * per-request overhead is a measured figure (bench:server).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { OpenAIHttpError } from "./errors.ts";

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
}

export function createJsonServer(options: JsonServerOptions): Server {
  const { routes, maxBodyBytes, apiKey } = options;
  const publicPaths = new Set(options.publicPaths ?? []);
  const optionalBody = new Set(options.optionalBodyPaths ?? []);
  const knownPaths = new Set(Object.keys(routes).map((k) => k.slice(k.indexOf(" ") + 1)));

  const server = createServer((req, res) => {
    const abort = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    void handle(req, res, abort.signal).catch((err: unknown) => sendError(res, toHttpError(err)));
  });
  server.keepAliveTimeout = 120_000;

  async function handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal) {
    const path = (req.url ?? "/").split("?")[0];
    const handler = routes[`${req.method} ${path}`];
    if (!handler) {
      await drain(req);
      throw knownPaths.has(path)
        ? new OpenAIHttpError(405, `method ${req.method} not allowed on ${path}`)
        : new OpenAIHttpError(404, `no route ${req.method} ${path}`, "not_found_error");
    }
    if (apiKey && !publicPaths.has(path) && req.headers.authorization !== `Bearer ${apiKey}`) {
      await drain(req);
      throw new OpenAIHttpError(401, "missing or wrong API key (send Authorization: Bearer <key>)", "authentication_error");
    }
    const body = req.method === "POST" ? await readJson(req, maxBodyBytes, optionalBody.has(path)) : undefined;
    const result = await handler({ req, res, body, signal });
    if (result !== undefined && !res.headersSent) sendJson(res, 200, result);
  }
  return server;
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, err: OpenAIHttpError): void {
  if (res.headersSent) {
    // Mid-stream failure: all we can do is end the stream with an error event.
    if (!res.writableEnded) res.end(`data: ${JSON.stringify(err.toBody())}\n\n`);
    return;
  }
  sendJson(res, err.status, err.toBody());
}

function toHttpError(err: unknown): OpenAIHttpError {
  if (err instanceof OpenAIHttpError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new OpenAIHttpError(500, `internal error: ${message}`);
}

/** The body as JSON. Read with plain stream events: an async iterator costs more per request. */
function readJson(req: IncomingMessage, limit: number, mayBeEmpty = false): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    req.resume();
    return Promise.reject(new OpenAIHttpError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`));
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
      if (settled) return; // over the limit: drained, not kept
      size += chunk.length;
      if (size > limit) return fail(new OpenAIHttpError(413, `request body exceeds the limit of ${limit} bytes`));
      chunks.push(chunk);
    });
    req.on("error", fail);
    req.on("close", () => {
      if (!settled) fail(new OpenAIHttpError(400, "the request was closed before its body was complete"));
    });
    req.on("end", () => {
      if (settled) return;
      settled = true;
      const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString("utf8");
      if (text.trim() === "") {
        if (mayBeEmpty) return resolve(undefined);
        return reject(new OpenAIHttpError(400, "request body is empty; expected a JSON object"));
      }
      try {
        resolve(JSON.parse(text) as unknown);
      } catch (e) {
        reject(new OpenAIHttpError(400, `request body is not valid JSON: ${(e as Error).message}`));
      }
    });
  });
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) void _;
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
