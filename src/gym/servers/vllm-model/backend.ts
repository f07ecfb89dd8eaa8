/**
 * The policy backends of the model proxy: one or several OpenAI-compatible `.../v1` base URLs
 * (one per data-parallel replica). A session sticks to one replica, picked as NeMo Gym does it:
 * sha256(session id)[:8] as a number, modulo the replica count (prefix-cache hits across turns).
 */
import { createHash } from "node:crypto";
import { callWithRetry, type HttpResult } from "../../http/fetch.ts";

export class PolicyBackends {
  readonly urls: string[];

  constructor(
    baseUrl: string | string[],
    private readonly apiKey: string | undefined,
    private readonly headers: Record<string, string> = {},
    private readonly timeoutMs?: number,
  ) {
    this.urls = (Array.isArray(baseUrl) ? baseUrl : [baseUrl]).map((u) => u.replace(/\/+$/, ""));
    if (this.urls.length === 0) throw new Error("base_url is empty");
  }

  pick(sessionId: string): string {
    if (this.urls.length === 1) return this.urls[0];
    const h = createHash("sha256").update(sessionId).digest("hex").slice(0, 8);
    return this.urls[parseInt(h, 16) % this.urls.length];
  }

  /**
   * `sessionId`, when given, travels as X-Session-ID: gymrl's OpenAI server hands it to its engine,
   * so a remote engine pool behind one server URL keeps every turn of the rollout on one replica.
   */
  post(baseUrl: string, path: string, json: unknown, signal?: AbortSignal, sessionId?: string): Promise<HttpResult> {
    const headers: Record<string, string> = { ...this.headers };
    if (sessionId) headers["x-session-id"] = sessionId;
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    return callWithRetry("policy", `${baseUrl}${path}`, { method: "POST", json, headers }, { signal, timeoutMs: this.timeoutMs });
  }
}

/** `.../v1` → the server root, where vLLM serves /tokenize. */
export function serverRoot(baseUrl: string): string {
  return baseUrl.replace(/\/v1$/, "");
}
