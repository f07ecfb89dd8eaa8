/**
 * Gym `/run` result → token samples the trainer can use. Not collection (that is the collector's),
 * not advantages (grpo/).
 *
 * A result's `response.output` holds, on the last output item of each model call, the exact prompt
 * the engine saw (`prompt_token_ids`), the tokens it sampled (`generation_token_ids`) and their
 * logprobs (`generation_log_probs`). Walking those calls in order, each prompt must extend
 * everything seen so far (the previous prompt and generation); then the trajectory is
 *
 *   tokens   = [ ctx_0 | gen_0 | ctx_1 | gen_1 | ... ]      ctx_k = prompt_k minus what came before
 *   lossMask = [ 0...  | 1...  | 0...  | 1...  | ... ]      only sampled tokens are trained
 *   logprobs = [ 0...  | lp_0  | 0...  | lp_1  | ... ]
 *
 * and its concatenation equals the last call's prompt + generation, with no re-tokenization
 * anywhere. NeMo RL: `NemoGym._postprocess_nemo_gym_to_nemo_rl_result` (nemo_gym.py), where a
 * broken prefix is an assert. Here a broken prefix is a reported event (first differing position)
 * handled by policy: "split" (default; a new sample starts from that call's full prompt, like the
 * peers that fork non-monotonic histories), "drop" (the rollout yields no samples) or "fail" (throw).
 * Expected edge cases are values: an overflowed or empty rollout yields one sample with no
 * trainable tokens, flagged with its cause, so its reward still counts in its group's baseline.
 */
import { readWireBundle, type TokenBundle } from "../gym/protocol/tokens.ts";

// -------------------------------------------------------------------------------------------------
// Input: the parts of a /run result read here (wire names). gym/protocol's VerifyResponse fits it.

export interface GymRunResult {
  response: {
    output: ReadonlyArray<Record<string, unknown>>;
    status?: string | null;
    incomplete_details?: { reason?: string | null } | null;
  };
  reward: number;
  reward_components?: Record<string, number> | null;
  agent_ref?: { type?: string; name: string } | null;
  _ng_task_index?: number | null;
  _ng_rollout_index?: number | null;
  instance_config?: { mask_sample?: boolean | null } | null;
}

// -------------------------------------------------------------------------------------------------
// Output

export type PrefixBreakPolicy = "split" | "drop" | "fail";

/** A model call whose prompt does not extend what the trajectory already holds. */
export interface ContiguityBreak {
  /** 0-based index of the model call (among calls with generated tokens) in the rollout. */
  call: number;
  /** first position where the held tokens and the call's prompt differ. */
  position: number;
  /** the held token at that position. */
  expected: number;
  /** the prompt's token there, or null when the prompt ends before it (history was cut). */
  got: number | null;
}

/**
 * Why a rollout has nothing to train on (NeMo RL tells the first two apart in its error message):
 *  - prompt_exceeds_max_model_len: the response is incomplete and no call generated a token, so the
 *    first prompt most likely did not fit the engine's context;
 *  - only_untrained_items: calls carried token fields but every generation was empty, or only
 *    reasoning / tool-call items came back;
 *  - no_token_ids: no output item carries token fields at all: is the model server returning
 *    token ids (`return_token_id_information: true`)?
 */
export type NoTrainableCause = "prompt_exceeds_max_model_len" | "only_untrained_items" | "no_token_ids";

/** [start, end) of one context or generation span in a sample's tokens. */
export interface TokenSpan {
  kind: "context" | "generation";
  start: number;
  end: number;
}

export interface TokenSample {
  /** (T,) prompt deltas and generations, end to end. */
  tokens: Int32Array;
  /** (T,) 1 on sampled tokens, 0 on context (template, tool outputs, user turns). */
  lossMask: Uint8Array;
  /** (T,) the sampler's logprob of each sampled token, 0 where lossMask is 0. */
  generationLogprobs: Float64Array;
  /** alternating context / generation spans covering tokens. */
  spans: TokenSpan[];
  /** tokens in the first context span: the initial prompt (NeMo RL `length`). */
  promptLength: number;
  /** trajectory-level reward from the verifier; every segment of a split rollout carries it. */
  reward: number;
  rewardComponents?: Record<string, number>;
  taskIndex: number | null;
  rolloutIndex: number | null;
  agentRef: { type: string; name: string } | null;
  /**
   * 0, or the piece number when a prefix break split the rollout. Compute advantages per rollout
   * (taskIndex, rolloutIndex), not per sample, so a split rollout counts once in its group's baseline.
   */
  segment: number;
  /** model calls with generated tokens in this sample. */
  turns: number;
  /** the rollout stopped on a length limit; a rollout-level flag, set on every segment. */
  truncated: boolean;
  /** the environment asked for this sample to be left out of the loss (`instance_config.mask_sample`). */
  maskSample: boolean;
  /** every prefix break of the rollout this sample came from. */
  contiguityBreaks: ContiguityBreak[];
  /** set when the sample has no trainable token. */
  noTrainableTokens: NoTrainableCause | null;
}

export interface TrajectoryConversion {
  outcome: "ok" | "split" | "dropped" | "no_trainable_tokens";
  /** [] when dropped. */
  samples: TokenSample[];
  breaks: ContiguityBreak[];
  /** calls whose token fields came with an empty generation (skipped, as NeMo RL does). */
  emptyGenerationCalls: number;
  /** for no_trainable_tokens: what went wrong and what to try. */
  message: string | null;
}

export interface TrajectoryOptions {
  onPrefixBreak?: PrefixBreakPolicy;
  /** "keep" (default): an untrainable rollout is one flagged sample; "fail": throw. */
  onNoTrainableTokens?: "keep" | "fail";
  /** also call a sample truncated when its tokens reach the engine's context (NeMo RL's hit_max_tokens). */
  maxModelLen?: number;
}

export type TrajectoryErrorCode =
  | "prefix_break"
  | "no_trainable_tokens"
  | "malformed_token_fields"
  | "nan_logprobs"
  | "bad_reward";

export class TrajectoryError extends Error {
  override readonly name = "TrajectoryError";
  constructor(
    readonly code: TrajectoryErrorCode,
    message: string,
    readonly contiguityBreak?: ContiguityBreak,
  ) {
    super(message);
  }
}

// -------------------------------------------------------------------------------------------------

/** One growing sample: the tokens held so far and their masks. */
class SampleBuilder {
  tokens: number[] = [];
  lossMask: number[] = [];
  logprobs: number[] = [];
  spans: TokenSpan[] = [];
  turns = 0;

  add(kind: TokenSpan["kind"], ids: readonly number[], logprobs?: readonly number[]): void {
    if (ids.length === 0) return;
    const start = this.tokens.length;
    for (let i = 0; i < ids.length; i++) {
      this.tokens.push(ids[i]);
      this.lossMask.push(kind === "generation" ? 1 : 0);
      this.logprobs.push(logprobs ? logprobs[i] : 0);
    }
    this.spans.push({ kind, start, end: this.tokens.length });
  }
}

/** First index where prompt stops extending held, or -1 when held is a prefix of prompt. */
export function firstDifference(held: readonly number[], prompt: readonly number[]): number {
  for (let i = 0; i < held.length; i++) if (i >= prompt.length || prompt[i] !== held[i]) return i;
  return -1;
}

function bundleOf(item: Record<string, unknown>, index: number): TokenBundle | undefined {
  const b = readWireBundle(item);
  if (b === undefined) return undefined;
  const where = `response.output[${index}] (${String(item.type)})`;
  if ("error" in b) throw new TrajectoryError("malformed_token_fields", `${where}: ${b.error}`);
  for (const [name, a] of [
    ["prompt_token_ids", b.promptTokenIds],
    ["generation_token_ids", b.generationTokenIds],
    ["generation_log_probs", b.generationLogProbs],
  ] as const) {
    if (!Array.isArray(a)) throw new TrajectoryError("malformed_token_fields", `${where}: ${name} is not a list`);
  }
  if (b.generationLogProbs.some((x) => Number.isNaN(x))) {
    throw new TrajectoryError("nan_logprobs", `${where}: generation_log_probs contains NaN; the sampler's numerics are broken`);
  }
  return b;
}

function checkReward(result: GymRunResult): Record<string, number> | undefined {
  if (typeof result.reward !== "number" || !Number.isFinite(result.reward)) {
    throw new TrajectoryError("bad_reward", `reward must be a finite number, got ${String(result.reward)}`);
  }
  const comps = result.reward_components;
  if (!comps || Object.keys(comps).length === 0) return undefined;
  // A multi-reward verifier sets reward = Σ components (NeMo RL validate_reward_components_match_scalar).
  const total = Object.values(comps).reduce((a, b) => a + b, 0);
  if (Math.abs(result.reward - total) > Math.max(1e-6, 1e-5 * Math.max(Math.abs(result.reward), Math.abs(total)))) {
    throw new TrajectoryError("bad_reward", `reward ${result.reward} is not the sum of reward_components (${total}): ${JSON.stringify(comps)}`);
  }
  return { ...comps };
}

function breakMessage(b: ContiguityBreak): string {
  const got = b.got === null ? "the prompt ends there (history was cut)" : `the prompt has ${b.got}`;
  return (
    `model call ${b.call}: its prompt_token_ids do not extend the trajectory so far; first difference at position ` +
    `${b.position}: held ${b.expected}, ${got}. Likely causes: tokens merged when messages were concatenated ` +
    "(re-tokenized history), history truncated or summarised by the agent, or reasoning stripped by the chat template"
  );
}

const NO_TRAINABLE_MESSAGE: Record<NoTrainableCause, string> = {
  prompt_exceeds_max_model_len:
    "no model call generated a token and the response is incomplete: the first prompt most likely exceeds the engine's " +
    "max_model_len, so the request was refused before generation; raise the context length or shorten the prompt",
  only_untrained_items:
    "model calls returned token fields but no generated tokens (only reasoning / tool-call items, or empty generations); " +
    "inspect why this rollout produced no assistant output",
  no_token_ids:
    "no output item carries prompt_token_ids / generation_token_ids / generation_log_probs; the model server must " +
    "return token ids for training (vllm_model `return_token_id_information: true`)",
};

export function gymResultToSamples(result: GymRunResult, opts: TrajectoryOptions = {}): TrajectoryConversion {
  const policy = opts.onPrefixBreak ?? "split";
  const rewardComponents = checkReward(result);
  const response = result.response;
  const incompleteReason = response.status === "incomplete" ? (response.incomplete_details?.reason ?? "incomplete") : null;

  const finished: SampleBuilder[] = [];
  let current = new SampleBuilder();
  const breaks: ContiguityBreak[] = [];
  let emptyGenerationCalls = 0;
  let anyTokenFields = false;
  let longestPrompt: readonly number[] = [];
  let call = 0;
  let dropped = false;

  response.output.forEach((item, index) => {
    if (dropped) return;
    const b = bundleOf(item, index);
    if (!b) return; // tool outputs, user messages, and the non-final items of a call carry no tokens
    anyTokenFields = true;
    if (b.promptTokenIds.length > longestPrompt.length) longestPrompt = b.promptTokenIds;
    if (b.generationTokenIds.length === 0) {
      emptyGenerationCalls++; // e.g. an all-EOS generation stripped to []: nothing to train, nothing to check
      return;
    }
    const p = firstDifference(current.tokens, b.promptTokenIds);
    if (p >= 0) {
      const brk: ContiguityBreak = { call, position: p, expected: current.tokens[p], got: p < b.promptTokenIds.length ? b.promptTokenIds[p] : null };
      breaks.push(brk);
      if (policy === "fail") throw new TrajectoryError("prefix_break", breakMessage(brk), brk);
      if (policy === "drop") {
        dropped = true;
        return;
      }
      finished.push(current); // split: this call starts a fresh sample from its whole prompt
      current = new SampleBuilder();
    }
    current.add("context", b.promptTokenIds.slice(current.tokens.length));
    current.add("generation", b.generationTokenIds, b.generationLogProbs);
    current.turns++;
    call++;
  });

  const base = {
    reward: result.reward,
    ...(rewardComponents ? { rewardComponents } : {}),
    taskIndex: result._ng_task_index ?? null,
    rolloutIndex: result._ng_rollout_index ?? null,
    // NeMo Gym rows may leave the agent_ref type out; it can only name an agent.
    agentRef: result.agent_ref ? { type: result.agent_ref.type ?? "responses_api_agents", name: result.agent_ref.name } : null,
    maskSample: Boolean(result.instance_config?.mask_sample),
    contiguityBreaks: breaks,
  };

  if (dropped) return { outcome: "dropped", samples: [], breaks, emptyGenerationCalls, message: breakMessage(breaks[0]) };

  if (call === 0) {
    const cause: NoTrainableCause = incompleteReason !== null ? "prompt_exceeds_max_model_len" : anyTokenFields ? "only_untrained_items" : "no_token_ids";
    const types = response.output.map((o) => String(o.type));
    const message = `${NO_TRAINABLE_MESSAGE[cause]} (response.status ${String(response.status)}, output item types [${types.join(", ")}])`;
    if (opts.onNoTrainableTokens === "fail") throw new TrajectoryError("no_trainable_tokens", message);
    const only = new SampleBuilder();
    only.add("context", longestPrompt); // whatever prompt is known, as context; often nothing
    const sample = toSample(only, 0, { ...base, truncated: incompleteReason === "max_output_tokens", noTrainableTokens: cause });
    return { outcome: "no_trainable_tokens", samples: [sample], breaks, emptyGenerationCalls, message };
  }

  finished.push(current);
  const hitLength = incompleteReason === "max_output_tokens" || (opts.maxModelLen !== undefined && current.tokens.length >= opts.maxModelLen);
  const samples = finished.map((sb, segment) => toSample(sb, segment, { ...base, truncated: hitLength, noTrainableTokens: null }));
  return { outcome: breaks.length > 0 ? "split" : "ok", samples, breaks, emptyGenerationCalls, message: null };
}

type SampleMeta = Omit<TokenSample, "tokens" | "lossMask" | "generationLogprobs" | "spans" | "promptLength" | "segment" | "turns">;

function toSample(sb: SampleBuilder, segment: number, meta: SampleMeta): TokenSample {
  const first = sb.spans[0];
  return {
    tokens: Int32Array.from(sb.tokens),
    lossMask: Uint8Array.from(sb.lossMask),
    generationLogprobs: Float64Array.from(sb.logprobs),
    spans: sb.spans,
    promptLength: first && first.kind === "context" ? first.end : 0,
    segment,
    turns: sb.turns,
    ...meta,
  };
}

// -------------------------------------------------------------------------------------------------

export interface ConversionCounts {
  rollouts: number;
  samples: number;
  /** rollouts with at least one prefix break, and the breaks in all. */
  brokenRollouts: number;
  prefixBreaks: number;
  splitRollouts: number;
  droppedRollouts: number;
  noTrainableTokens: Record<NoTrainableCause, number>;
  truncatedRollouts: number;
  emptyGenerationCalls: number;
}

/** Counts for the step's metrics: every break, drop and empty rollout is reported, never silent. */
export function countConversions(conversions: readonly TrajectoryConversion[]): ConversionCounts {
  const c: ConversionCounts = {
    rollouts: conversions.length,
    samples: 0,
    brokenRollouts: 0,
    prefixBreaks: 0,
    splitRollouts: 0,
    droppedRollouts: 0,
    noTrainableTokens: { prompt_exceeds_max_model_len: 0, only_untrained_items: 0, no_token_ids: 0 },
    truncatedRollouts: 0,
    emptyGenerationCalls: 0,
  };
  for (const conv of conversions) {
    c.samples += conv.samples.length;
    c.prefixBreaks += conv.breaks.length;
    if (conv.breaks.length > 0) c.brokenRollouts++;
    if (conv.outcome === "split") c.splitRollouts++;
    if (conv.outcome === "dropped") c.droppedRollouts++;
    const cause = conv.samples[0]?.noTrainableTokens;
    if (cause) c.noTrainableTokens[cause]++;
    if (conv.samples.some((s) => s.truncated)) c.truncatedRollouts++;
    c.emptyGenerationCalls += conv.emptyGenerationCalls;
  }
  return c;
}
