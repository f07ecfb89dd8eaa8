/**
 * The OpenAI-compatible server over a GenerationEngine: routes, limits, and the served model.
 * `createOpenAIServer` returns an unstarted node:http server; `listen` binds it.
 */
import { randomFillSync } from "node:crypto";
import type { Server } from "node:http";
import { chatCompletions } from "./chat-completions.ts";
import { completions } from "./completions.ts";
import type { ServerContext } from "./context.ts";
import { createJsonServer } from "./http.ts";
import { detokenize, tokenize } from "./tokenize.ts";

/** The handlers' context (less the id generator, which the server makes) plus HTTP settings. */
export interface OpenAIServerOptions extends Omit<ServerContext, "newId"> {
  apiKey?: string;
  /** Largest request body; multi-turn histories with token ids get long. Default 32 MiB. */
  maxBodyBytes?: number;
}

export function createOpenAIServer(options: OpenAIServerOptions): Server {
  const { apiKey, maxBodyBytes, ...handlerOptions } = options;
  const ctx: ServerContext = { ...handlerOptions, newId: randomIds() };
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
    maxBodyBytes: maxBodyBytes ?? 32 * 1024 * 1024,
    apiKey,
    publicPaths: ["/health"],
    routes: {
      "POST /v1/chat/completions": ({ body, signal, res }) => chatCompletions(ctx, body, signal, res),
      "POST /v1/completions": ({ body, signal, res }) => completions(ctx, body, signal, res),
      "POST /tokenize": ({ body }) => tokenize(ctx, body),
      "POST /detokenize": ({ body }) => detokenize(ctx, body),
      "GET /v1/models": models,
      "GET /health": () => ({ status: "ok", policy_version: ctx.engine.policyVersion }),
    },
  });
}

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
