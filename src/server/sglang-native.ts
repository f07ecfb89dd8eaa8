/**
 * SGLang's native routes on `gymrl serve`, so a pool of gymrl servers is driven exactly as a pool
 * of SGLang servers (src/engine/remote/sglang-client.ts):
 *   POST /generate                  input_ids (or text) + sampling_params → text, output_ids, meta_info
 *   POST /update_weights_from_disk  model_path (+ weight_version, abort_all_requests, flush_cache)
 *   GET|POST /flush_cache
 *   POST /pause_generation          mode: abort | retract | in_place
 *   POST /continue_generation
 *   GET  /get_model_info
 * Shapes per https://docs.sglang.io/basic_usage/sampling_params.html and
 * https://docs.sglang.io/advanced_features/sglang_for_rl.html. Bad bodies get 400 in SGLang's
 * shapes: {"error": {"message"}} (here with OpenAI's extra keys), and {"success": false, "message"}
 * for a weight update.
 *
 * gymrl additions to meta_info: weight_versions (the label of every version that produced tokens,
 * when a weight update landed mid-generation), policy_version(s), max_model_len on get_model_info.
 * /flush_cache answers success without work: this engine's prefix cache never serves keys and
 * values computed by older weights (a weight update invalidates it), so there is nothing stale to drop.
 */
import type { ServerResponse } from "node:http";
import { z } from "zod";
import type { GenerateResult } from "../engine/types.ts";
import type { ServerContext } from "./context.ts";
import type { EngineControl, PauseMode } from "./engine-control.ts";
import { badRequest, OpenAIHttpError } from "./errors.ts";
import { clampMaxTokens } from "./generation.ts";
import type { Handler } from "./http.ts";
import { toSamplingParams } from "./sampling.ts";
import { parseBody } from "./wire.ts";
import { checkCheckpointDir } from "./vllm-control.ts";

const tokenIds = z.array(z.number().int().nonnegative());

const samplingParamsSchema = z
  .object({
    temperature: z.number().min(0).nullish(),
    top_p: z.number().gt(0).max(1).nullish(),
    top_k: z.number().int().min(-1).nullish(),
    max_new_tokens: z.number().int().nonnegative().nullish(),
    stop_token_ids: tokenIds.nullish(),
    sampling_seed: z.number().int().nullish(),
    ignore_eos: z.boolean().nullish(),
    stop: z.union([z.string(), z.array(z.string())]).nullish(),
    n: z.literal(1).nullish(),
  })
  .loose();

const inputIdsSchema = z.union([tokenIds.min(1), z.array(tokenIds)]).nullish();

export const generateRequestSchema = z
  .object({
    text: z.string().nullish(),
    input_ids: inputIdsSchema,
    sampling_params: samplingParamsSchema.nullish(),
    rid: z.string().nullish(),
    return_logprob: z.boolean().nullish(),
    logprob_start_len: z.number().int().nullish(),
    top_logprobs_num: z.number().int().min(0).max(20).nullish(),
    return_text_in_logprobs: z.boolean().nullish(),
    stream: z.boolean().nullish(),
  })
  .loose();

const updateFromDiskSchema = z
  .object({
    model_path: z.string().min(1),
    load_format: z.string().nullish(),
    abort_all_requests: z.boolean().nullish(),
    weight_version: z.string().nullish(),
    flush_cache: z.boolean().nullish(),
  })
  .loose();

const pauseSchema = z.object({ mode: z.enum(["abort", "retract", "in_place"]).nullish() }).loose();

export function sglangRoutes(ctx: ServerContext, control: EngineControl): Record<string, Handler> {
  const flush: Handler = ({ res }) => {
    sendText(res, 200, "Cache flushed.\nPlease check backend logs for more details. (When there are running or waiting requests, the operation will not be performed.)\n");
    return undefined;
  };
  return {
    "POST /generate": ({ body, signal }) => generate(ctx, control, body, signal),
    "POST /update_weights_from_disk": async ({ body, res }) => {
      const parsed = updateFromDiskSchema.safeParse(body ?? {});
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return failed(res, `invalid request: ${issue.path.join(".") || "body"}: ${issue.message}`);
      }
      const req = parsed.data;
      const problem = checkCheckpointDir(req.model_path);
      if (problem) return failed(res, `model_path: ${problem}`);
      if (req.abort_all_requests) control.abortAll();
      try {
        await control.loadCheckpoint(req.model_path, req.weight_version ?? undefined);
      } catch (e) {
        return failed(res, `Failed to update weights: ${(e as Error).message}`);
      }
      return { success: true, message: "Succeeded to update model weights.", num_paused_requests: 0 };
    },
    "GET /flush_cache": flush,
    "POST /flush_cache": flush,
    "POST /pause_generation": async ({ body }) => {
      const req = parseBody(pauseSchema, body ?? {});
      await control.pause((req.mode ?? "abort") as PauseMode);
      return { message: "Generation paused successfully.", status: "ok" };
    },
    "POST /continue_generation": () => {
      control.resume();
      return { message: "Generation continued successfully.", status: "ok" };
    },
    "GET /get_model_info": () => ({
      model_path: ctx.modelName,
      tokenizer_path: ctx.modelName,
      is_generation: true,
      weight_version: control.labelOf(control.policyVersion),
      max_model_len: control.maxModelLen,
      policy_version: control.policyVersion,
    }),
  };
}

/** True for a flat list of token ids: checked in one loop (a long prompt costs zod ~85 ns an id). */
function isTokenIdList(v: unknown): v is number[] {
  if (!Array.isArray(v) || v.length === 0) return false;
  for (const x of v) if (!Number.isSafeInteger(x) || x < 0) return false;
  return true;
}

/** The body, validated; a flat input_ids list skips zod's per-item pass (anything else gets zod's errors). */
function parseGenerate(body: unknown) {
  const ids = typeof body === "object" && body !== null ? (body as { input_ids?: unknown }).input_ids : undefined;
  if (!isTokenIdList(ids)) return parseBody(generateRequestSchema, body);
  const req = parseBody(generateRequestSchema, { ...(body as object), input_ids: undefined });
  return { ...req, input_ids: ids };
}

async function generate(ctx: ServerContext, control: EngineControl, body: unknown, signal: AbortSignal) {
  const t0 = performance.now();
  const req = parseGenerate(body);
  if (req.stream) throw badRequest("stream: true is not supported by gymrl's /generate", "stream");
  if (req.text != null && req.input_ids != null) throw badRequest("give text or input_ids, not both", "input_ids");
  let promptTokenIds: number[];
  if (req.input_ids != null) {
    if (Array.isArray(req.input_ids[0])) throw badRequest("batched input_ids (a list of lists) are not supported; send one request per prompt", "input_ids");
    promptTokenIds = req.input_ids as number[];
  } else if (req.text != null) {
    promptTokenIds = ctx.tokenizer.encode(req.text);
  } else {
    throw badRequest("one of text or input_ids is required", "input_ids");
  }
  if (promptTokenIds.length === 0) throw badRequest("the prompt (input_ids or text) is empty", "input_ids");
  for (const t of promptTokenIds) {
    if (t >= ctx.tokenizer.vocabSize) throw badRequest(`token id ${t} is outside the vocabulary (size ${ctx.tokenizer.vocabSize})`, "input_ids");
  }
  if (req.logprob_start_len != null && req.logprob_start_len !== -1) {
    throw badRequest("only output-token logprobs are served (logprob_start_len: -1)", "logprob_start_len");
  }
  const sp = req.sampling_params ?? {};
  if (sp.stop != null && (typeof sp.stop === "string" ? sp.stop.length > 0 : sp.stop.length > 0)) {
    throw badRequest("stop strings are not supported by gymrl's /generate; use stop_token_ids", "sampling_params.stop");
  }
  const sampling = toSamplingParams({ temperature: sp.temperature, top_p: sp.top_p, top_k: sp.top_k, seed: sp.sampling_seed }, ctx.samplingProfiles);
  // SGLang's default max_new_tokens is 128; like the OpenAI routes, clamp it to the room left
  const maxTokens = clampMaxTokens(ctx, promptTokenIds.length, sp.max_new_tokens ?? 128);
  const stopTokenIds = [...(sp.ignore_eos ? [] : ctx.stopTokenIds), ...(sp.stop_token_ids ?? [])];
  const top = req.top_logprobs_num ?? 0;
  let r: GenerateResult;
  if (maxTokens === 0) {
    r = { promptTokenIds, generationTokenIds: [], generationLogProbs: [], finishReason: "length", policyVersion: control.policyVersion, policyVersions: [control.policyVersion] };
  } else {
    r = await control.run({ promptTokenIds, sampling, maxTokens, stopTokenIds, topLogprobs: req.return_logprob ? top : 0 }, { signal });
  }
  if (signal.aborted) throw new OpenAIHttpError(499, "client closed the request");
  const withText = req.return_text_in_logprobs ?? false;
  const name = (id: number) => (withText ? ctx.tokenizer.decode([id]) : null);
  const n = r.generationTokenIds.length;
  const meta: Record<string, unknown> = {
    id: req.rid ?? ctx.newId(""),
    finish_reason: finishReason(r, stopTokenIds),
    prompt_tokens: r.promptTokenIds.length,
    completion_tokens: n,
    cached_tokens: r.cachedPromptTokens ?? 0,
    weight_version: control.labelOf(r.policyVersion),
    weight_versions: r.policyVersions.map((v) => control.labelOf(v)),
    policy_version: r.policyVersion,
    policy_versions: r.policyVersions,
  };
  if (req.return_logprob) {
    meta.input_token_logprobs = [];
    meta.output_token_logprobs = r.generationTokenIds.map((id, i) => [r.generationLogProbs[i], id, name(id)]);
    if (top > 0) meta.output_top_logprobs = (r.topLogprobs ?? r.generationTokenIds.map(() => [])).map((alts) => alts.map((a) => [a.logprob, a.tokenId, name(a.tokenId)]));
  }
  const text = ctx.tokenizer.decode(r.generationTokenIds);
  meta.e2e_latency = (performance.now() - t0) / 1000; // SGLang's field, seconds
  return { text, output_ids: r.generationTokenIds, meta_info: meta };
}

/** SGLang's finish_reason objects: stop (with the matched token), length, abort. */
function finishReason(r: GenerateResult, stopTokenIds: readonly number[]) {
  const n = r.generationTokenIds.length;
  if (r.finishReason === "abort") return { type: "abort", message: "Abort before weight update or by the client." };
  if (r.finishReason === "length") return { type: "length", length: n };
  const last = r.generationTokenIds[n - 1];
  return { type: "stop", matched: stopTokenIds.includes(last) ? last : null };
}

function failed(res: ServerResponse, message: string): undefined {
  const text = JSON.stringify({ success: false, message, num_paused_requests: 0 });
  res.writeHead(400, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
  return undefined;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
