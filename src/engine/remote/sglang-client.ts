/**
 * One SGLang server (or `gymrl serve`, which answers the same routes) as a ReplicaClient.
 *
 * Generation: POST /generate with `input_ids`, `sampling_params` (temperature, top_p, top_k,
 * max_new_tokens, stop_token_ids, sampling_seed), `return_logprob` with `logprob_start_len: -1`
 * (output tokens only) and `top_logprobs_num`. The answer is {text, output_ids, meta_info} with
 * meta_info.output_token_logprobs as [logprob, token_id, text] triples (checked against
 * output_ids), finish_reason {type: stop|length|abort}, prompt_tokens, cached_tokens and
 * weight_version. Shapes per https://docs.sglang.io/basic_usage/sampling_params.html and
 * https://docs.sglang.io/basic_usage/native_api.html .
 *
 * Weight sync, per https://docs.sglang.io/advanced_features/sglang_for_rl.html :
 *   POST /pause_generation          {"mode": "abort"}: in-flight requests come back with finish
 *                                   reason abort and the pool sends them again after the update,
 *                                   so none is lost and none mixes weights (a flush needs an idle
 *                                   engine, which "retract" and "in_place" do not leave)
 *   POST /update_weights_from_disk  {"model_path": dir, "weight_version": "<pool version>",
 *                                    "flush_cache": true} → {"success", "message"}
 *   POST /continue_generation       {}
 * The weight_version label comes back on every sample (meta_info.weight_version), so the pool
 * knows exactly which weights produced it.
 */
import type { FinishReason, GenerateRequest, TokenLogprob } from "../types.ts";
import { RemoteEngineError } from "./errors.ts";
import { call, parseJson, postOk, statusError } from "./http.ts";
import { type ReplicaClient, type ReplicaGenerateOptions, type ReplicaGeneration, wireTopK } from "./replica.ts";
import { authHeaders, checkHealth, readMaxModelLen } from "./server-info.ts";
import { Checker } from "./validate.ts";

const ROUTE = "POST /generate";

export interface SglangClientOptions {
  /** timeout of control calls (pause, weight load, resume) in ms; default 600 s */
  controlTimeoutMs?: number;
  /** sent as Authorization: Bearer on every call (servers started with --api-key) */
  apiKey?: string;
}

export class SglangClient implements ReplicaClient {
  readonly dialect = "sglang" as const;

  private readonly headers: Record<string, string>;

  constructor(
    readonly url: string,
    private readonly opts: SglangClientOptions = {},
  ) {
    this.headers = authHeaders(opts.apiKey);
  }

  /** The /generate body for a request. */
  body(request: GenerateRequest): Record<string, unknown> {
    const s = request.sampling;
    const top = request.topLogprobs ?? 0;
    return {
      input_ids: request.promptTokenIds,
      sampling_params: {
        temperature: s.temperature,
        top_p: s.topP,
        top_k: wireTopK(s.topK),
        max_new_tokens: request.maxTokens,
        stop_token_ids: request.stopTokenIds,
        ...(s.seed !== undefined ? { sampling_seed: s.seed } : {}),
      },
      return_logprob: true,
      logprob_start_len: -1,
      ...(top > 0 ? { top_logprobs_num: top } : {}),
      stream: false,
    };
  }

  async generate(request: GenerateRequest, options: ReplicaGenerateOptions): Promise<ReplicaGeneration> {
    const res = await call(this.url, "POST", "/generate", this.body(request), { ...options, headers: this.headers });
    if (res.status < 200 || res.status >= 300) throw statusError(this.url, ROUTE, res);
    return this.parse(request, parseJson(this.url, ROUTE, res.text));
  }

  /** Validates a /generate answer against the request it answers. */
  parse(request: GenerateRequest, json: unknown): ReplicaGeneration {
    const c = new Checker(this.url, ROUTE);
    const body = c.object(json, "body");
    const tokens = c.tokenIds(body.output_ids, "output_ids");
    const meta = c.object(body.meta_info, "meta_info");
    if (tokens.length > request.maxTokens) c.fail("output_ids", `has ${tokens.length} ids, more than max_new_tokens ${request.maxTokens}`);
    const promptTokens = c.int(meta.prompt_tokens, "meta_info.prompt_tokens");
    if (promptTokens !== request.promptTokenIds.length) c.fail("meta_info.prompt_tokens", `is ${promptTokens}, but the prompt sent has ${request.promptTokenIds.length} ids`);
    const triples = c.array(meta.output_token_logprobs, "meta_info.output_token_logprobs");
    c.sameLength(triples, tokens, "meta_info.output_token_logprobs", "output_ids");
    const logprobs = new Array<number>(tokens.length);
    for (let i = 0; i < triples.length; i++) {
      const t = triples[i] as unknown[];
      const field = `meta_info.output_token_logprobs[${i}]`;
      if (!Array.isArray(t) || t.length < 2) c.fail(field, `is ${JSON.stringify(t)}, expected [logprob, token_id, text]`);
      if (t[1] !== tokens[i]) c.fail(`${field}[1]`, `is token ${JSON.stringify(t[1])} but output_ids[${i}] is ${tokens[i]}`);
      const lp = t[0];
      if (typeof lp !== "number" || Number.isNaN(lp) || lp > 1e-6) c.fail(`${field}[0]`, `is ${JSON.stringify(lp)}, not a log-probability`);
      logprobs[i] = lp as number;
    }
    let topLogprobs: TokenLogprob[][] | undefined;
    if ((request.topLogprobs ?? 0) > 0) {
      const tops = c.array(meta.output_top_logprobs, "meta_info.output_top_logprobs");
      c.sameLength(tops, tokens, "meta_info.output_top_logprobs", "output_ids");
      topLogprobs = tops.map((row, i) =>
        c.array(row, `meta_info.output_top_logprobs[${i}]`).map((entry, j) => {
          const t = entry as unknown[];
          if (!Array.isArray(t) || typeof t[0] !== "number" || !Number.isSafeInteger(t[1])) {
            c.fail(`meta_info.output_top_logprobs[${i}][${j}]`, `is ${JSON.stringify(t)}, expected [logprob, token_id, text]`);
          }
          return { tokenId: t[1] as number, logprob: t[0] as number };
        }),
      );
    }
    const finishReason = finishOf(c, meta.finish_reason);
    const cached = meta.cached_tokens;
    const reportedVersions = versionsOf(meta);
    const e2e = meta.e2e_latency;
    return {
      promptTokenIds: [...request.promptTokenIds],
      generationTokenIds: tokens,
      generationLogProbs: logprobs,
      ...(topLogprobs ? { topLogprobs } : {}),
      finishReason,
      ...(cached !== undefined && cached !== null ? { cachedPromptTokens: c.int(cached, "meta_info.cached_tokens") } : {}),
      ...(reportedVersions ? { reportedVersions } : {}),
      ...(typeof e2e === "number" && e2e >= 0 ? { serverMs: e2e * 1000 } : {}),
    };
  }

  async health(options: { timeoutMs?: number } = {}): Promise<void> {
    await checkHealth(this.url, this.headers, options);
  }

  async maxModelLen(options: { timeoutMs?: number } = {}): Promise<number> {
    return readMaxModelLen(this.url, this.headers, options);
  }

  async pause(): Promise<void> {
    await postOk(this.url, "/pause_generation", { mode: "abort" }, this.control());
  }

  async loadWeights(dir: string, version: number): Promise<void> {
    const route = "POST /update_weights_from_disk";
    const res = await call(this.url, "POST", "/update_weights_from_disk", { model_path: dir, weight_version: String(version), flush_cache: true }, this.control());
    // a failed load is HTTP 400 with {"success": false, "message"}: the replica's fault, not the request's
    const json = res.text ? parseJson(this.url, route, res.text) : undefined;
    const ok = typeof json === "object" && json !== null && (json as { success?: unknown }).success === true;
    if (res.status >= 200 && res.status < 300 && ok) return;
    if (res.status >= 500) throw statusError(this.url, route, res);
    const message = (json as { message?: unknown } | undefined)?.message;
    throw new RemoteEngineError("server", this.url, `${route} of ${dir} failed (HTTP ${res.status}): ${typeof message === "string" ? message : res.text.slice(0, 500)}`, null, res.status);
  }

  async resume(): Promise<void> {
    await postOk(this.url, "/continue_generation", {}, this.control());
  }

  reset(): void {}

  private control() {
    return { timeoutMs: this.opts.controlTimeoutMs ?? 600_000, headers: this.headers };
  }
}

function finishOf(c: Checker, v: unknown): FinishReason {
  const type = typeof v === "object" && v !== null ? (v as { type?: unknown }).type : undefined;
  if (type === "stop" || type === "length" || type === "abort") return type;
  return c.fail("meta_info.finish_reason", `is ${JSON.stringify(v)}, expected {"type": "stop" | "length" | "abort"}`);
}

/**
 * meta_info.weight_versions (gymrl: every version that produced a token) or weight_version, when
 * they are the pool's integer labels; SGLang's own default label ("default") says nothing.
 */
function versionsOf(meta: Record<string, unknown>): number[] | undefined {
  const labels = Array.isArray(meta.weight_versions) ? meta.weight_versions : [meta.weight_version];
  const out: number[] = [];
  for (const l of labels) {
    if (typeof l !== "string" || !/^\d+$/.test(l)) return undefined;
    out.push(Number(l));
  }
  return out.length > 0 ? out : undefined;
}
