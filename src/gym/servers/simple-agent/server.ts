/**
 * simple_agent, gymrl's TypeScript implementation of NeMo Gym's reference agent:
 *   POST /run               row → seed_session → episode (loop.ts) → verify → the verify response
 *   POST /v1/responses      the episode alone, for callers that seed and verify themselves
 *   POST /aggregate_metrics proxied to the resources server
 * Config (as NeMo Gym): resources_server, model_server ({type, name}), max_steps,
 * skip_verification, skip_verification_reward.
 */
import { z } from "zod";
import { okJson } from "../../client.ts";
import { GymClientError, GymHttpError } from "../../errors.ts";
import { HttpError } from "../../http/errors.ts";
import type { RequestContext } from "../../http/app.ts";
import { runRequest } from "../../protocol/gym.ts";
import { responseCreateParams, type Response } from "../../protocol/responses.ts";
import { defineServer, type ServerContext } from "../define.ts";
import { runEpisode } from "./loop.ts";

const agentConfig = z.looseObject({
  resources_server: z.object({ type: z.literal("resources_servers"), name: z.string() }),
  model_server: z.object({ type: z.literal("responses_api_models"), name: z.string() }),
  max_steps: z.number().int().positive().nullish(),
  skip_verification: z.boolean().nullish(),
  skip_verification_reward: z.number().nullish(),
});

export default defineServer({
  serverType: "responses_api_agents",
  className: "SimpleAgent",
  routes(ctx) {
    const cfg = agentConfig.parse(ctx.config);
    const resources = cfg.resources_server.name;
    const model = cfg.model_server.name;

    const episode = (req: RequestContext, params: z.infer<typeof responseCreateParams>, resourcesCookies: Record<string, string>) => {
      const modelCookies = { ...req.cookies };
      return runEpisode(params, { client: ctx.client, modelServer: model, resourcesServer: resources, maxSteps: cfg.max_steps, modelCookies, resourcesCookies, signal: req.signal }).then((response) => {
        Object.assign(req.setCookies, resourcesCookies, modelCookies);
        return response;
      });
    };

    return [
      {
        method: "POST",
        path: "/v1/responses",
        handler: (req) => upstream(ctx, () => episode(req, req.parse(responseCreateParams), { ...req.cookies })),
      },
      {
        method: "POST",
        path: "/run",
        errorStyle: "detail",
        handler: (req) =>
          upstream(ctx, async () => {
            req.parse(runRequest);
            const row = req.body as Record<string, unknown> & z.infer<typeof runRequest>;
            const resourcesCookies: Record<string, string> = {};
            const seeded = await ctx.client.post(resources, "/seed_session", row, { signal: req.signal });
            okJson(resources, "/seed_session", seeded);
            Object.assign(resourcesCookies, seeded.setCookies);

            const response: Response = await episode(req, row.responses_create_params, resourcesCookies);
            if (cfg.skip_verification) {
              return { ...row, response, reward: cfg.skip_verification_reward ?? 0, verification_skipped: true };
            }
            const verified = await ctx.client.post(resources, "/verify", { ...row, response }, { cookies: resourcesCookies, signal: req.signal });
            Object.assign(req.setCookies, verified.setCookies);
            return okJson(resources, "/verify", verified);
          }),
      },
      {
        method: "POST",
        path: "/aggregate_metrics",
        handler: (req) => upstream(ctx, () => ctx.client.postJson(resources, "/aggregate_metrics", req.body)),
      },
    ];
  },
});

/**
 * Failures of the servers this agent calls become a 500 whose message names that server (NeMo
 * Gym: "Hit an exception in <key> calling an inner server"); a 4xx from the model proxy is the
 * caller's bad request and keeps its status.
 */
async function upstream<T>(ctx: ServerContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof GymHttpError && e.status >= 400 && e.status < 500 && e.status !== 404) {
      throw new HttpError(e.status, `${ctx.instanceName}: ${e.message}`, "invalid_request_error");
    }
    if (e instanceof GymClientError) throw new HttpError(500, `${ctx.instanceName} hit an error calling an inner server: ${e.message}`, "upstream_error");
    throw e;
  }
}
