/**
 * The conversation a request belongs to, for sticky routing over an engine with several replicas
 * (src/engine/remote): the `X-Session-ID` header (gymrl's Gym model proxy sends its per-rollout
 * session there) or vLLM's `session_id` body field ("stable session identity shared by related
 * requests", https://docs.vllm.ai/en/latest/serving/online_serving/openai_compatible_server/).
 * With a key, the handlers see an engine that passes it on as GenerateOptions.sessionKey.
 */
import type { IncomingMessage } from "node:http";
import type { GenerateOptions, GenerateRequest, GenerationEngine } from "../engine/types.ts";
import type { ServerContext } from "./context.ts";

export const SESSION_HEADER = "x-session-id";

export function sessionKeyOf(req: IncomingMessage, body: unknown): string | undefined {
  const h = req.headers[SESSION_HEADER];
  if (typeof h === "string" && h.length > 0) return h;
  const b = typeof body === "object" && body !== null ? (body as { session_id?: unknown }).session_id : undefined;
  return typeof b === "string" && b.length > 0 ? b : undefined;
}

/** The context itself without a key; with one, a copy whose engine forwards the key. */
export function withSessionKey(ctx: ServerContext, req: IncomingMessage, body: unknown): ServerContext {
  const key = sessionKeyOf(req, body);
  if (key === undefined) return ctx;
  const engine = ctx.engine;
  const keyed: GenerationEngine = {
    get maxModelLen() {
      return engine.maxModelLen;
    },
    get policyVersion() {
      return engine.policyVersion;
    },
    generate: (request: GenerateRequest, options: GenerateOptions = {}) => engine.generate(request, { ...options, sessionKey: key }),
    close: () => engine.close(),
  };
  return { ...ctx, engine: keyed };
}
