/**
 * JSON over HTTP to one replica, on node:http with a keep-alive agent: the remote engine's
 * per-request overhead is a measured figure (bench:remote-engine), and node:http with pooled
 * sockets costs less per call than fetch. Transport failures become RemoteEngineErrors with a kind
 * (unreachable, timeout, server, rejected) so the pool can tell a dead replica from a bad request.
 */
import { Agent, request } from "node:http";
import { RemoteEngineError } from "./errors.ts";

/**
 * One agent for every replica: sockets are pooled per host:port. An idle socket is closed after 4 s,
 * before uvicorn's default keep-alive of 5 s (vLLM, SGLang) closes it under us.
 */
const agent = new Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: 1024, maxFreeSockets: 256, timeout: 4000 });

export interface CallOptions {
  signal?: AbortSignal;
  /** Give up after this many ms (a "timeout" error); 0 or absent: no limit beyond the signal. */
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export interface RawResponse {
  status: number;
  text: string;
}

/**
 * One HTTP call. Resolves with any status (the caller decides what 4xx means for its route);
 * rejects only for transport failures, timeouts and aborts.
 */
export function call(baseUrl: string, method: "GET" | "POST", path: string, body: unknown, opts: CallOptions = {}): Promise<RawResponse> {
  return attempt(baseUrl, method, path, body, opts, true);
}

function attempt(baseUrl: string, method: "GET" | "POST", path: string, body: unknown, opts: CallOptions, mayRetry: boolean): Promise<RawResponse> {
  const { signal, timeoutMs } = opts;
  if (signal?.aborted) return Promise.reject(new RemoteEngineError("aborted", baseUrl, `${method} ${path} aborted by the caller`));
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const url = new URL(path, baseUrl);
  return new Promise<RawResponse>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: RemoteEngineError | null, res?: RawResponse) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve(res!);
    };
    const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (e) => finish(transportError(baseUrl, method, path, e)));
      res.on("aborted", () => finish(new RemoteEngineError("unreachable", baseUrl, `${method} ${path}: the connection closed mid-answer`)));
      res.on("end", () => {
        const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString("utf8");
        finish(null, { status: res.statusCode ?? 0, text });
      });
    });
    const onAbort = () => {
      req.destroy();
      finish(new RemoteEngineError("aborted", baseUrl, `${method} ${path} aborted by the caller`));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeoutMs && timeoutMs > 0) {
      timer = setTimeout(() => {
        req.destroy();
        finish(new RemoteEngineError("timeout", baseUrl, `${method} ${path}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    }
    req.on("error", (e) => {
      // a kept-alive socket the server closed just as we reused it: the request never reached the
      // server, so sending it once more on a fresh socket is safe (Node's documented pattern)
      if (mayRetry && req.reusedSocket && (e as NodeJS.ErrnoException).code === "ECONNRESET" && !settled) {
        settled = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        attempt(baseUrl, method, path, body, opts, false).then(resolve, reject);
        return;
      }
      finish(transportError(baseUrl, method, path, e));
    });
    req.end(payload);
  });
}

function transportError(baseUrl: string, method: string, path: string, e: Error): RemoteEngineError {
  const code = (e as NodeJS.ErrnoException).code;
  return new RemoteEngineError("unreachable", baseUrl, `${method} ${path} failed: ${code ?? ""} ${e.message}`.replace(/\s+/g, " ").trim());
}

/**
 * Non-2xx → the error the pool acts on: 5xx is the replica's fault (retry elsewhere), 4xx is the
 * request's (no retry). The server's own message is kept, cut to a readable length.
 */
export function statusError(baseUrl: string, route: string, res: RawResponse): RemoteEngineError {
  const detail = res.text.length > 1000 ? `${res.text.slice(0, 1000)}…` : res.text;
  const kind = res.status >= 500 ? "server" : "rejected";
  return new RemoteEngineError(kind, baseUrl, `${route} answered HTTP ${res.status}: ${detail}`, null, res.status);
}

/** The body as JSON, or an invalid-response error naming the route. */
export function parseJson(baseUrl: string, route: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    const head = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    throw new RemoteEngineError("invalid-response", baseUrl, `${route} response is not JSON (${(e as Error).message}): ${JSON.stringify(head)}`, "body");
  }
}

/** POST a JSON body; a 2xx answer's text, else the status error. */
export async function postOk(baseUrl: string, path: string, body: unknown, opts: CallOptions = {}): Promise<string> {
  const res = await call(baseUrl, "POST", path, body, opts);
  if (res.status < 200 || res.status >= 300) throw statusError(baseUrl, `POST ${path}`, res);
  return res.text;
}

/** GET; a 2xx answer's text, else the status error. */
export async function getOk(baseUrl: string, path: string, opts: CallOptions = {}): Promise<string> {
  const res = await call(baseUrl, "GET", path, undefined, opts);
  if (res.status < 200 || res.status >= 300) throw statusError(baseUrl, `GET ${path}`, res);
  return res.text;
}
