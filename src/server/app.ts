/**
 * The OpenAI-compatible server over a GenerationEngine: routes, limits, and the served model.
 * `createOpenAIServer` returns an unstarted node:http server; `listen` binds it.
 */
import { randomFillSync } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import { chatCompletions } from "./chat-completions.ts";
import { completions } from "./completions.ts";
import type { ServerContext } from "./context.ts";
import { EngineControl, isUpdatable } from "./engine-control.ts";
import { createJsonServer } from "./http.ts";
import { OPENAI_MAX_BODY_BYTES } from "./http-policy.ts";
import { withSessionKey } from "./session-key.ts";
import { sglangRoutes } from "./sglang-native.ts";
import { detokenize, tokenize } from "./tokenize.ts";
import { vllmControlRoutes } from "./vllm-control.ts";

/** The handlers' context (less the id generator, which the server makes) plus HTTP settings. */
export interface OpenAIServerOptions extends Omit<ServerContext, "newId"> {
  apiKey?: string;
  /** Largest request body; multi-turn histories with token ids get long. Default 32 MiB. */
  maxBodyBytes?: number;
}

export function createOpenAIServer(options: OpenAIServerOptions): Server {
  const { apiKey, maxBodyBytes, ...handlerOptions } = options;
  // An engine that takes new weights also gets SGLang's and vLLM's control routes; every request,
  // whatever its dialect, then passes the control's pause gate.
  const control = isUpdatable(handlerOptions.engine) ? new EngineControl(handlerOptions.engine) : null;
  const ctx: ServerContext = { ...handlerOptions, ...(control ? { engine: control } : {}), newId: randomIds() };
  const s = (req: IncomingMessage, body: unknown) => withSessionKey(ctx, req, body);
  const models = () => ({
    object: "list",
    data: [
      {
        id: ctx.modelName,
        object: "model",
        created: 0,
        owned_by: "gymrl",
        root: ctx.modelName,
        max_model_len: ctx.engine.maxModelLen,
        policy_version: ctx.engine.policyVersion,
      },
    ],
  });
  return createJsonServer({
    maxBodyBytes: maxBodyBytes ?? OPENAI_MAX_BODY_BYTES,
    apiKey,
    publicPaths: ["/health"],
    optionalBodyPaths: control ? OPTIONAL_BODY_PATHS : [],
    routes: {
      "POST /v1/chat/completions": ({ req, body, signal, res }) => chatCompletions(s(req, body), body, signal, res),
      "POST /v1/completions": ({ req, body, signal, res }) => completions(s(req, body), body, signal, res),
      "POST /tokenize": ({ body }) => tokenize(ctx, body),
      "POST /detokenize": ({ body }) => detokenize(ctx, body),
      "GET /v1/models": models,
      "GET /health": () => ({ status: "ok", policy_version: ctx.engine.policyVersion }),
      ...(control ? { ...sglangRoutes(ctx, control), ...vllmControlRoutes(control) } : {}),
    },
  });
}

/** Control calls that clients send without a body. */
const OPTIONAL_BODY_PATHS = [
  "/flush_cache",
  "/pause_generation",
  "/continue_generation",
  "/update_weights_from_disk",
  "/pause",
  "/resume",
  "/reset_prefix_cache",
  "/start_weight_update",
  "/finish_weight_update",
];

/** Ids of 12 random bytes in hex, drawn from a pooled buffer: one entropy call per 256 ids, not one each. */
function randomIds(): (prefix: string) => string {
  const pool = Buffer.alloc(12 * 256);
  let at = pool.length;
  return (prefix) => {
    if (at === pool.length) {
      randomFillSync(pool);
      at = 0;
    }
    at += 12;
    return prefix + pool.toString("hex", at - 12, at);
  };
}
