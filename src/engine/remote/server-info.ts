/**
 * The routes vLLM and SGLang (and `gymrl serve`) answer alike, shared by both clients:
 * GET /health, and GET /v1/models, whose OpenAI-compatible model card carries max_model_len.
 */
import { getOk, parseJson } from "./http.ts";
import { Checker } from "./validate.ts";

/** Authorization: Bearer headers for servers started with --api-key; none without a key. */
export function authHeaders(apiKey: string | undefined): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

/** Resolves when GET /health answers 2xx; rejects with a RemoteEngineError otherwise. */
export async function checkHealth(url: string, headers: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<void> {
  await getOk(url, "/health", { ...options, headers });
}

/** data[0].max_model_len of GET /v1/models. */
export async function readMaxModelLen(url: string, headers: Record<string, string>, options: { timeoutMs?: number } = {}): Promise<number> {
  const route = "GET /v1/models";
  const c = new Checker(url, route);
  const body = c.object(parseJson(url, route, await getOk(url, "/v1/models", { ...options, headers })), "body");
  const data = c.array(body.data, "data");
  if (data.length === 0) c.fail("data", "is empty");
  return c.int(c.object(data[0], "data[0]").max_model_len, "data[0].max_model_len");
}
