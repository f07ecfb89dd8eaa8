/**
 * NeMo Gym's own endpoint bodies (`nemo_gym/base_resources_server.py`,
 * `base_responses_api_agent.py`, `server_utils.py`): run rows, verify requests and responses,
 * aggregate metrics, the head server's instance list. Rows are loose: task fields ride along.
 */
import { z } from "zod";
import { response, responseCreateParams } from "./responses.ts";

/** `{type, name}`; rows written by NeMo Gym sometimes carry only the name. */
export const serverRef = z.looseObject({ type: z.string().optional(), name: z.string() });

/** A dataset row as POSTed to an agent's /run (and forwarded to /seed_session). */
export const runRequest = z.looseObject({
  responses_create_params: responseCreateParams,
  agent_ref: serverRef.nullish(),
  _ng_task_index: z.number().int().nullish(),
  _ng_rollout_index: z.number().int().nullish(),
});

/** /seed_session accepts the whole row; the base model ignores what it does not know. */
export const seedSessionRequest = z.looseObject({});

export const verifyRequest = runRequest.extend({ response });

export const verifyResponse = verifyRequest.extend({ reward: z.number() });

export const aggregateMetricsRequest = z.looseObject({
  verify_responses: z.array(z.looseObject({})),
});

export const aggregateMetricsResponse = z.looseObject({
  group_level_metrics: z.array(z.record(z.string(), z.unknown())),
  agent_metrics: z.record(z.string(), z.unknown()),
  key_metrics: z.record(z.string(), z.unknown()),
});

/** One row of the head server's GET /server_instances (`ServerInstanceDisplayConfig`). */
export const serverInstanceDisplay = z.object({
  config_path: z.string(),
  dir_path: z.string(),
  entrypoint: z.string(),
  host: z.string(),
  name: z.string(),
  pid: z.number().int().nullable(),
  port: z.number().int(),
  process_name: z.string(),
  server_type: z.string(),
  start_time: z.number(),
  status: z.string(),
  uptime_seconds: z.number(),
  url: z.string(),
});

export const statusOk = z.object({ status: z.literal("ok") });

export type RunRequest = z.infer<typeof runRequest>;
export type VerifyRequest = z.infer<typeof verifyRequest>;
export type VerifyResponse = z.infer<typeof verifyResponse>;
export type AggregateMetricsRequest = z.infer<typeof aggregateMetricsRequest>;
export type AggregateMetricsResponse = z.infer<typeof aggregateMetricsResponse>;
export type ServerInstanceDisplay = z.infer<typeof serverInstanceDisplay>;
