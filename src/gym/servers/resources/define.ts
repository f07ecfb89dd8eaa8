/**
 * The resources server base (NeMo Gym's SimpleResourcesServer): an environment writes only its
 * logic — tools, an optional seed, verify — and gets the endpoints:
 *   POST /seed_session       the whole /run row → {} (state is created per session)
 *   POST /<tool_name>        the model's arguments, validated by the tool's zod schema
 *   POST /verify             row + response → the request echoed + reward + extra fields
 *   POST /aggregate_metrics  {verify_responses} → metrics (default: means of numeric fields)
 *   GET  /reverify_mode      "unknown" unless the environment says otherwise
 * The session cookie on every response keys the per-rollout state.
 */
import type { z } from "zod";
import { HttpError, validationError } from "../../http/errors.ts";
import type { Route } from "../../http/app.ts";
import {
  aggregateMetricsRequest,
  seedSessionRequest,
  verifyRequest,
  type AggregateMetricsResponse,
  type RunRequest,
  type VerifyRequest,
} from "../../protocol/gym.ts";
import { defineServer, type ServerContext, type ServerDefinition } from "../define.ts";
import { aggregateVerifyResponses } from "./metrics.ts";
import { SessionStore, type Session } from "./sessions.ts";

export type { Session } from "./sessions.ts";

export interface ToolDef<S, A extends z.ZodType> {
  schema: A;
  handler(args: z.infer<A>, session: Session<S>, ctx: ServerContext): unknown;
}

/** A tool, typed by its schema: `tool(z.object({city: z.string()}), ({city}) => ...)`. */
export function tool<S, A extends z.ZodType>(schema: A, handler: ToolDef<S, A>["handler"]): ToolDef<S, A> {
  return { schema, handler };
}

/** `reward` plus any extra fields (numeric extras become metrics). */
export type VerifyResult = { reward: number } & Record<string, unknown>;

export interface ResourcesServerSpec<S> {
  /** The cookie name prefix; NeMo Gym uses the Python class name, e.g. SimpleWeatherResourcesServer. */
  name: string;
  /** A fresh session's state. */
  initialState?: (ctx: ServerContext) => S;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tool has its own argument type
  tools?: Record<string, ToolDef<S, any>>;
  seedSession?(row: RunRequest & Record<string, unknown>, session: Session<S>, ctx: ServerContext): unknown;
  verify(body: VerifyRequest & Record<string, unknown>, session: Session<S>, ctx: ServerContext): VerifyResult | Promise<VerifyResult>;
  aggregateMetrics?(verifyResponses: Record<string, unknown>[], ctx: ServerContext): AggregateMetricsResponse | Promise<AggregateMetricsResponse>;
  reverifyMode?: "stateless" | "unsupported" | "unknown";
  /** Endpoints beyond the standard ones. */
  extraRoutes?(ctx: ServerContext, sessions: SessionStore<S>): Route[];
}

const RESERVED = new Set(["", "seed_session", "verify", "aggregate_metrics", "reverify_mode"]);

export function defineResourcesServer<S = Record<string, never>>(spec: ResourcesServerSpec<S>): ServerDefinition {
  for (const name of Object.keys(spec.tools ?? {})) {
    if (RESERVED.has(name) || !/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`tool name '${name}' cannot be an endpoint`);
  }
  return defineServer({
    serverType: "resources_servers",
    className: spec.name,
    routes(ctx) {
      const sessions = new SessionStore<S>(() => (spec.initialState ? spec.initialState(ctx) : ({} as S)));
      const routes: Route[] = [
        {
          method: "POST",
          path: "/seed_session",
          handler: async (req) => {
            const row = req.parse(seedSessionRequest) as RunRequest & Record<string, unknown>;
            await spec.seedSession?.(row, sessions.get(req.sessionId), ctx);
            return {};
          },
        },
        {
          method: "POST",
          path: "/verify",
          handler: async (req) => {
            const body = req.parse(verifyRequest) as VerifyRequest & Record<string, unknown>;
            const result = await spec.verify(body, sessions.get(req.sessionId), ctx);
            if (typeof result?.reward !== "number" || !Number.isFinite(result.reward)) {
              throw new Error(`verify of '${ctx.instanceName}' returned no finite numeric reward`);
            }
            // The raw body, not the parsed one: the echo keeps every field exactly as sent.
            return { ...(req.body as object), ...result };
          },
        },
        {
          method: "POST",
          path: "/aggregate_metrics",
          handler: async (req) => {
            const { verify_responses } = req.parse(aggregateMetricsRequest);
            return spec.aggregateMetrics ? spec.aggregateMetrics(verify_responses, ctx) : aggregateVerifyResponses(verify_responses);
          },
        },
        { method: "GET", path: "/reverify_mode", handler: () => spec.reverifyMode ?? "unknown" },
      ];
      for (const [name, t] of Object.entries(spec.tools ?? {})) {
        routes.push({
          method: "POST",
          path: `/${name}`,
          handler: async (req) => {
            // no body means no arguments; a JSON null is not an arguments object (found by npm run fuzz)
            const r = t.schema.safeParse(req.body === undefined ? {} : req.body);
            if (!r.success) throw validationError(r.error, "detail");
            return t.handler(r.data, sessions.get(req.sessionId), ctx);
          },
        });
      }
      routes.push(...(spec.extraRoutes?.(ctx, sessions) ?? []));
      return routes;
    },
  });
}

export { HttpError };
