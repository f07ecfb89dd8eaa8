/**
 * vllm_model, gymrl's TypeScript implementation of NeMo Gym's model proxy: a stateless CPU proxy
 * in front of OpenAI-compatible policy servers (vLLM, gymrl's own).
 *   POST /v1/responses         Responses → chat (to-chat.ts) → policy → Responses (from-chat.ts)
 *   POST /v1/chat/completions  chat → policy → chat, with the token bundle on the message
 * With return_token_id_information the policy is asked for token ids and the bundle is attached
 * to the last output item of each call. A prompt longer than the policy's context (400 with
 * "context length") is not an error: it is an empty, incomplete response (reason
 * max_output_tokens), so the rollout ends and the trainer sees no generation.
 * Policy failures are answered 500, not 502: the proxy has already retried (bounded), and a 502
 * would make every caller up the chain retry again (NeMo RL #3590's retry amplification).
 */
import { GymConnectionError } from "../../errors.ts";
import { HttpError } from "../../http/errors.ts";
import { chatCompletion, chatCompletionCreateParams, type ChatCompletion } from "../../protocol/chat.ts";
import { responseCreateParams } from "../../protocol/responses.ts";
import type { TokenBundle } from "../../protocol/tokens.ts";
import { defineServer } from "../define.ts";
import { PolicyBackends, serverRoot } from "./backend.ts";
import { vllmModelConfig, type VllmModelConfig } from "./config.ts";
import { buildResponse, chatToOutputItems, chatUsageToResponses } from "./from-chat.ts";
import { shapeChatRequest } from "./shape.ts";
import { responsesToChatParams } from "./to-chat.ts";
import { extractTokenBundle, TokenBundleError, withBundleOnMessage } from "./token-bundle.ts";

export default defineServer({
  serverType: "responses_api_models",
  className: "VLLMModel",
  routes(ctx) {
    const cfg = vllmModelConfig.parse(ctx.config);
    const timeoutMs = cfg.request_timeout_seconds ? cfg.request_timeout_seconds * 1000 : undefined;
    const backends = new PolicyBackends(cfg.base_url, cfg.api_key ?? undefined, cfg.default_headers ?? {}, timeoutMs);

    /** One policy call; returns the completion and its bundle (when token ids are on). */
    async function complete(body: Record<string, unknown>, sessionId: string, signal: AbortSignal): Promise<{ completion: ChatCompletion; bundle?: TokenBundle }> {
      const base = backends.pick(sessionId);
      let res;
      try {
        res = await backends.post(base, "/chat/completions", body, signal, sessionId);
      } catch (e) {
        if (e instanceof GymConnectionError) throw new HttpError(500, `policy server unreachable: ${e.message}`, "upstream_error");
        throw e;
      }
      if (res.status === 400 && /context length/i.test(res.text)) return { completion: overflowCompletion(cfg) };
      if (res.status < 200 || res.status >= 300) {
        throw new HttpError(res.status >= 500 ? 500 : res.status, `policy server ${base} answered HTTP ${res.status}: ${res.text.slice(0, 2000)}`, "upstream_error");
      }
      const parsed = chatCompletion.safeParse(safeJson(res.text));
      if (!parsed.success) throw new HttpError(500, `policy server ${base} returned an invalid chat completion: ${parsed.error.issues[0]?.message}`, "upstream_error");
      const completion = parsed.data;
      if (!cfg.return_token_id_information) return { completion };
      try {
        const bundle = await extractTokenBundle(completion, () => tokenize(base, body, signal));
        return { completion, bundle };
      } catch (e) {
        if (e instanceof TokenBundleError) throw new HttpError(500, `policy server ${base}: ${e.message}`, "upstream_error");
        throw e;
      }
    }

    async function tokenize(base: string, body: Record<string, unknown>, signal: AbortSignal): Promise<number[]> {
      const req: Record<string, unknown> = {};
      for (const k of ["model", "messages", "tools", "chat_template_kwargs", "mm_processor_kwargs", "required_prefix_token_ids"]) if (body[k] != null) req[k] = body[k];
      const res = await fetchRoot(base, req, signal);
      const tokens = (safeJson(res) as { tokens?: unknown })?.tokens;
      if (!Array.isArray(tokens)) throw new TokenBundleError(`POST ${serverRoot(base)}/tokenize returned no tokens`);
      return tokens as number[];
    }

    async function fetchRoot(base: string, req: unknown, signal: AbortSignal): Promise<string> {
      const res = await backends.post(serverRoot(base), "/tokenize", req, signal);
      if (res.status !== 200) throw new TokenBundleError(`POST ${serverRoot(base)}/tokenize answered HTTP ${res.status}`);
      return res.text;
    }

    return [
      {
        method: "POST",
        path: "/v1/responses",
        handler: async (req) => {
          const params = req.parse(responseCreateParams);
          if (params.stream) throw new HttpError(400, "stream: true is not supported by gymrl's vllm_model");
          const chat = responsesToChatParams(params, toChatOptions(cfg));
          const body = shapeChatRequest(chat, cfg, params.metadata);
          const { completion, bundle } = await complete(body, req.sessionId, req.signal);
          const output = chatToOutputItems(completion, bundle);
          return buildResponse(params, completion.model ?? cfg.model, output, completion.choices[0].finish_reason, chatUsageToResponses(completion.usage), completion.created);
        },
      },
      {
        method: "POST",
        path: "/v1/chat/completions",
        handler: async (req) => {
          const params = req.parse(chatCompletionCreateParams);
          if (params.stream) throw new HttpError(400, "stream: true is not supported by gymrl's vllm_model");
          const { metadata, ...rest } = req.body as Record<string, unknown>;
          const body = shapeChatRequest(rest, cfg, metadata as Record<string, string> | undefined);
          const { completion, bundle } = await complete(body, req.sessionId, req.signal);
          return bundle ? withBundleOnMessage(completion, bundle) : completion;
        },
      },
    ];
  },
});

function toChatOptions(cfg: VllmModelConfig) {
  return {
    returnTokenIdInformation: cfg.return_token_id_information,
    usesReasoningParser: cfg.uses_reasoning_parser,
    usesInterleavedReasoning: cfg.uses_interleaved_reasoning,
    preserveReasoningInAssistantContent: cfg.preserve_reasoning_in_assistant_content,
    replaceDeveloperRoleWithSystem: cfg.replace_developer_role_with_system,
  };
}

/** What NeMo Gym substitutes for a context overflow: no text, no tokens, finish_reason "length". */
function overflowCompletion(cfg: VllmModelConfig): ChatCompletion {
  return {
    id: "chatcmpl-context-overflow",
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: cfg.model,
    choices: [{ index: 0, message: { role: "assistant", content: "" }, finish_reason: "length" }],
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
