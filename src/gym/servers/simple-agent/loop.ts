/**
 * simple_agent's episode (NeMo Gym `responses_api_agents/simple_agent/app.py::_create_episode`):
 *
 *   outputs = []
 *   loop: response = model /v1/responses {params, input: input + outputs}
 *         outputs += response.output            (token fields untouched)
 *         stop if incomplete (length / context overflow)
 *         stop if no function call and an assistant message (the final answer)
 *         for each function call, in order: POST resources /<name> with the parsed arguments;
 *           its raw response text (whatever the status) is the function_call_output;
 *           arguments that are not JSON go back to the model as an error instead
 *         stop after max_steps model calls
 *   return the last response with output = outputs and usage summed over calls
 *
 * Cookies: the resources server's and the model server's cookies travel separately, each
 * replaced by what that server last set, so tool calls share one session and model calls stick
 * to one policy replica.
 */
import type { GymClient } from "../../client.ts";
import { okJson } from "../../client.ts";
import type { InputItem, OutputItem, Response, ResponseCreateParams, Usage } from "../../protocol/responses.ts";

export interface EpisodeOptions {
  client: GymClient;
  modelServer: string;
  resourcesServer: string;
  maxSteps?: number | null;
  /** Cookies for each target; updated in place as servers set new ones. */
  modelCookies: Record<string, string>;
  resourcesCookies: Record<string, string>;
  signal?: AbortSignal;
}

export async function runEpisode(params: ResponseCreateParams, opts: EpisodeOptions): Promise<Response> {
  const input: unknown[] = typeof params.input === "string" ? [{ role: "user", content: params.input, type: "message" }] : [...params.input];
  const outputs: unknown[] = [];
  let usage: Usage | undefined;
  let last: Response | undefined;

  for (let step = 1; ; step++) {
    const res = await opts.client.post(opts.modelServer, "/v1/responses", { ...params, input: [...input, ...outputs] }, {
      cookies: opts.modelCookies,
      signal: opts.signal,
    });
    Object.assign(opts.modelCookies, res.setCookies);
    const response = okJson<Response>(opts.modelServer, "/v1/responses", res);
    last = response;
    outputs.push(...response.output);
    usage = addUsage(usage, response.usage ?? undefined);

    if (response.incomplete_details) break;
    const calls = response.output.filter(isFunctionCall);
    const hasMessage = response.output.some((o) => o.type === "message" && (o as { role?: string }).role === "assistant");
    if (calls.length === 0 && hasMessage) break;

    for (const call of calls) {
      outputs.push({ type: "function_call_output", call_id: call.call_id, output: await callTool(call, opts) });
    }
    if (opts.maxSteps && step >= opts.maxSteps) break;
  }
  return { ...last, output: outputs as OutputItem[], usage: usage ?? last.usage };
}

type Call = Extract<InputItem, { type: "function_call" }>;

function isFunctionCall(o: OutputItem): o is OutputItem & Call {
  return o.type === "function_call";
}

async function callTool(call: Call, opts: EpisodeOptions): Promise<string> {
  let args: unknown;
  try {
    args = JSON.parse(call.arguments);
  } catch (e) {
    return JSON.stringify({ error: `Invalid tool call arguments: ${(e as Error).message}` });
  }
  // A connection failure (server dead) throws and ends the rollout; any HTTP answer, 4xx/5xx
  // included, is text for the model to read.
  const res = await opts.client.post(opts.resourcesServer, `/${encodeURIComponent(call.name)}`, args, {
    cookies: opts.resourcesCookies,
    signal: opts.signal,
  });
  Object.assign(opts.resourcesCookies, res.setCookies);
  return res.text;
}

function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a) return b ? structuredClone(b) : undefined;
  if (!b) return a;
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    input_tokens_details: { cached_tokens: (a.input_tokens_details?.cached_tokens ?? 0) + (b.input_tokens_details?.cached_tokens ?? 0) },
    output_tokens: a.output_tokens + b.output_tokens,
    output_tokens_details: { reasoning_tokens: (a.output_tokens_details?.reasoning_tokens ?? 0) + (b.output_tokens_details?.reasoning_tokens ?? 0) },
    total_tokens: a.total_tokens + b.total_tokens,
  };
}
