/**
 * One vLLM server (or `gymrl serve`, which answers the same routes) as a ReplicaClient.
 *
 * Generation: POST /v1/completions with a token-id prompt, `return_token_ids` (the choice then
 * carries `prompt_token_ids` and `token_ids`), `logprobs` (the sampled token's logprob, plus that
 * many alternatives) with `return_tokens_as_token_ids` (tokens named "token_id:<id>", checked
 * against `token_ids`), and `stop_token_ids`. Logprobs are processed ones only when the server
 * runs with `--logprobs-mode processed_logprobs` (README). Field names as documented in
 * https://docs.vllm.ai/en/latest/serving/online_serving/openai_compatible_server/ ("Extra
 * parameters" of the Completions API: stop_token_ids, return_tokens_as_token_ids,
 * return_token_ids, session_id).
 *
 * Weight sync (dev mode, VLLM_SERVER_DEV_MODE=1, and `--weight-transfer-config '{"backend":
 * "disk"}'`), per https://docs.vllm.ai/en/latest/training/async_rl/ and
 * https://docs.vllm.ai/en/latest/training/weight_transfer/disk/ :
 *   POST /pause?mode=keep              freeze in-flight requests (they resume on the new weights)
 *   POST /init_weight_transfer_engine  {"init_info": {}}  (once per server process)
 *   POST /start_weight_update
 *   POST /update_weights               {"update_info": {"path": "/abs/checkpoint/dir"}}
 *   POST /finish_weight_update
 *   POST /reset_prefix_cache           cached prefixes were computed by the old weights
 *   POST /resume
 * vLLM does not report which weights produced a sample; the pool stamps versions itself (pool.ts).
 */
import type { FinishReason, GenerateRequest, TokenLogprob } from "../types.ts";
import { parseJson, postOk, call, statusError } from "./http.ts";
import { type ReplicaClient, type ReplicaGenerateOptions, type ReplicaGeneration, wireTopK } from "./replica.ts";
import { authHeaders, checkHealth, readMaxModelLen } from "./server-info.ts";
import { Checker } from "./validate.ts";

const ROUTE = "POST /v1/completions";
const TOKEN_ID = /^token_id:(\d+)$/;

export interface VllmClientOptions {
  /** `model` sent with each request (vLLM's served model name); absent: the server's default. */
  modelName?: string;
  /** timeout of control calls (pause, weight load, resume) in ms; default 600 s */
  controlTimeoutMs?: number;
  /** sent as Authorization: Bearer on every call (servers started with --api-key) */
  apiKey?: string;
  /**
   * How /pause treats requests in flight: "keep" (default) freezes them and they finish on the new
   * weights (their samples list both versions, and their cached keys and values are the old
   * weights'); "wait" lets them finish on the old weights first (one version per sample, a slower
   * refit); "abort" ends them and the pool sends them again.
   */
  pauseMode?: "keep" | "wait" | "abort";
}

export class VllmClient implements ReplicaClient {
  readonly dialect = "vllm" as const;
  private transferReady = false;

  private readonly headers: Record<string, string>;

  constructor(
    readonly url: string,
    private readonly opts: VllmClientOptions = {},
  ) {
    this.headers = authHeaders(opts.apiKey);
  }

  /** The /v1/completions body for a request (exported shape, so tests can pin it). */
  body(request: GenerateRequest, sessionKey?: string): Record<string, unknown> {
    const s = request.sampling;
    return {
      ...(this.opts.modelName ? { model: this.opts.modelName } : {}),
      prompt: request.promptTokenIds,
      max_tokens: request.maxTokens,
      temperature: s.temperature,
      top_p: s.topP,
      top_k: wireTopK(s.topK),
      ...(s.seed !== undefined ? { seed: s.seed } : {}),
      stop_token_ids: request.stopTokenIds,
      logprobs: request.topLogprobs ?? 0,
      return_tokens_as_token_ids: true,
      return_token_ids: true,
      ...(sessionKey ? { session_id: sessionKey } : {}),
    };
  }

  async generate(request: GenerateRequest, options: ReplicaGenerateOptions): Promise<ReplicaGeneration> {
    const res = await call(this.url, "POST", "/v1/completions", this.body(request, options.sessionKey), { ...options, headers: this.headers });
    if (res.status < 200 || res.status >= 300) throw statusError(this.url, ROUTE, res);
    return this.parse(request, parseJson(this.url, ROUTE, res.text));
  }

  /** Validates a /v1/completions answer against the request it answers. */
  parse(request: GenerateRequest, json: unknown): ReplicaGeneration {
    const c = new Checker(this.url, ROUTE);
    const body = c.object(json, "body");
    const choices = c.array(body.choices, "choices");
    if (choices.length !== 1) c.fail("choices", `has ${choices.length} entries, expected 1`);
    const choice = c.object(choices[0], "choices[0]");
    const tokens = c.tokenIds(choice.token_ids, "choices[0].token_ids");
    const prompt = c.tokenIds(choice.prompt_token_ids, "choices[0].prompt_token_ids");
    if (prompt.length !== request.promptTokenIds.length || prompt.some((t, i) => t !== request.promptTokenIds[i])) {
      c.fail("choices[0].prompt_token_ids", `differs from the prompt sent (${prompt.length} vs ${request.promptTokenIds.length} ids)`);
    }
    if (tokens.length > request.maxTokens) c.fail("choices[0].token_ids", `has ${tokens.length} ids, more than max_tokens ${request.maxTokens}`);
    const lp = c.object(choice.logprobs, "choices[0].logprobs");
    const logprobs = c.logprobs(lp.token_logprobs, "choices[0].logprobs.token_logprobs");
    c.sameLength(logprobs, tokens, "choices[0].logprobs.token_logprobs", "choices[0].token_ids");
    const names = c.array(lp.tokens, "choices[0].logprobs.tokens");
    c.sameLength(names, tokens, "choices[0].logprobs.tokens", "choices[0].token_ids");
    for (let i = 0; i < names.length; i++) {
      const m = typeof names[i] === "string" ? TOKEN_ID.exec(names[i] as string) : null;
      if (!m || Number(m[1]) !== tokens[i]) {
        c.fail(`choices[0].logprobs.tokens[${i}]`, `is ${JSON.stringify(names[i])}, expected "token_id:${tokens[i]}" (return_tokens_as_token_ids)`);
      }
    }
    let topLogprobs: TokenLogprob[][] | undefined;
    if ((request.topLogprobs ?? 0) > 0) {
      const tops = c.array(lp.top_logprobs, "choices[0].logprobs.top_logprobs");
      c.sameLength(tops, tokens, "choices[0].logprobs.top_logprobs", "choices[0].token_ids");
      topLogprobs = tops.map((t, i) => topOf(c, t, `choices[0].logprobs.top_logprobs[${i}]`));
    }
    const finishReason = finishOf(c, choice.finish_reason);
    const usage = body.usage as { prompt_tokens_details?: { cached_tokens?: unknown } | null } | undefined;
    const cached = usage?.prompt_tokens_details?.cached_tokens;
    return {
      promptTokenIds: prompt,
      generationTokenIds: tokens,
      generationLogProbs: logprobs,
      ...(topLogprobs ? { topLogprobs } : {}),
      finishReason,
      ...(cached !== undefined && cached !== null ? { cachedPromptTokens: c.int(cached, "usage.prompt_tokens_details.cached_tokens") } : {}),
    };
  }

  async health(options: { timeoutMs?: number } = {}): Promise<void> {
    await checkHealth(this.url, this.headers, options);
  }

  async maxModelLen(options: { timeoutMs?: number } = {}): Promise<number> {
    return readMaxModelLen(this.url, this.headers, options);
  }

  async pause(): Promise<void> {
    await postOk(this.url, `/pause?mode=${this.opts.pauseMode ?? "keep"}`, undefined, this.control());
  }

  async loadWeights(dir: string, _version: number): Promise<void> {
    const t = this.control();
    if (!this.transferReady) {
      await postOk(this.url, "/init_weight_transfer_engine", { init_info: {} }, t);
      this.transferReady = true;
    }
    await postOk(this.url, "/start_weight_update", undefined, t);
    await postOk(this.url, "/update_weights", { update_info: { path: dir } }, t);
    await postOk(this.url, "/finish_weight_update", undefined, t);
    await postOk(this.url, "/reset_prefix_cache", undefined, t);
  }

  async resume(): Promise<void> {
    await postOk(this.url, "/resume", undefined, this.control());
  }

  reset(): void {
    this.transferReady = false;
  }

  private control() {
    return { timeoutMs: this.opts.controlTimeoutMs ?? 600_000, headers: this.headers };
  }
}

function finishOf(c: Checker, v: unknown): FinishReason {
  if (v === "stop" || v === "length" || v === "abort") return v;
  return c.fail("choices[0].finish_reason", `is ${JSON.stringify(v)}, expected "stop", "length" or "abort"`);
}

/** {"token_id:42": -0.1, ...} → alternatives, most likely first. */
function topOf(c: Checker, v: unknown, field: string): TokenLogprob[] {
  const o = c.object(v, field);
  const out: TokenLogprob[] = [];
  for (const [name, lp] of Object.entries(o)) {
    const m = TOKEN_ID.exec(name);
    if (!m) c.fail(field, `has key ${JSON.stringify(name)}, expected "token_id:<id>"`);
    if (typeof lp !== "number" || lp > 1e-6) c.fail(`${field}["${name}"]`, `is ${JSON.stringify(lp)}, not a log-probability`);
    out.push({ tokenId: Number(m[1]), logprob: lp });
  }
  return out.sort((a, b) => b.logprob - a.logprob);
}
