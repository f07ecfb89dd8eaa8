/**
 * Fixtures for the engine's tests: a tiny compact-vocabulary model with sharp random weights, and
 * independent references computed with Model.forward over whole sequences (no KV cache).
 * Test support only; nothing in the library imports it.
 */
import type { ModelConfig } from "../model/config.ts";
import { Model } from "../model/model.ts";
import { randomizeParams } from "../model/testing.ts";
import type { Kernels } from "../tensor/kernels.ts";
import type { SchedulerSink } from "./scheduler.ts";
import type { GenerateRequest, GenerateResult, GeneratedToken } from "./types.ts";

/** Tokenizer ids of the tiny model's rows (its unknown row is the 13th). */
export const TINY_IDS = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];

export function tinyEngineConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    model_type: "qwen3",
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 4,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    vocab_size: TINY_IDS.length + 1,
    tie_word_embeddings: false,
    max_position_embeddings: 128,
    gymrl_vocab_map: TINY_IDS,
    ...overrides,
  };
}

/** A tiny model with N(0, 0.5²) weights (peaked next-token distributions). */
export function tinyModel(kernels: Kernels, seed = 1, config = tinyEngineConfig()): Model {
  const model = new Model(config, { kernels });
  randomizeParams(model, seed, 0.5);
  return model;
}

/**
 * log p(next token = each head row | seq) by full forwards: the sequence is packed once per row,
 * the last position targeting that row's tokenizer id. Returns (Vout) log-probabilities.
 */
export function nextLogprobsByForward(model: Model, seq: readonly number[]): Float64Array {
  const V = model.dims.vOut;
  const n = seq.length;
  const tokens = new Int32Array(V * n);
  const targets = new Int32Array(V * n).fill(-1);
  const cuSeqlens = new Int32Array(V + 1);
  for (let r = 0; r < V; r++) {
    tokens.set(seq, r * n);
    targets[r * n + n - 1] = model.vocab.rowToId[r];
    cuSeqlens[r + 1] = (r + 1) * n;
  }
  const { logp } = model.forward({ tokens, targets, cuSeqlens });
  return Float64Array.from({ length: V }, (_, r) => logp[r * n + n - 1]);
}

/** Greedy continuation by full forwards over the growing sequence (tokenizer ids). */
export function greedyByForward(model: Model, prompt: readonly number[], maxTokens: number): number[] {
  const seq = [...prompt];
  const out: number[] = [];
  for (let t = 0; t < maxTokens; t++) {
    const lp = nextLogprobsByForward(model, seq);
    let best = 0;
    for (let r = 1; r < lp.length; r++) if (lp[r] > lp[best]) best = r;
    const id = model.vocab.rowToId[best];
    out.push(id);
    seq.push(id);
  }
  return out;
}

/** The trainer's log p of each generated token (one forward over prompt + generation). */
export function trainerLogprobs(model: Model, prompt: readonly number[], gen: readonly number[], temperature = 1): number[] {
  const seq = [...prompt, ...gen];
  const n = seq.length;
  const tokens = Int32Array.from(seq);
  const targets = new Int32Array(n).fill(-1);
  for (let i = prompt.length - 1; i < n - 1; i++) targets[i] = seq[i + 1];
  const { logp } = model.forward({ tokens, targets, cuSeqlens: Int32Array.from([0, n]) }, temperature);
  return gen.map((_, j) => logp[prompt.length - 1 + j]);
}

/** A greedy request with no stop ids (tests). */
export const greedy = (prompt: number[], maxTokens: number): GenerateRequest => ({
  promptTokenIds: prompt,
  sampling: { temperature: 0, topP: 1, topK: 0 },
  maxTokens,
  stopTokenIds: [],
});

/** Collects a scheduler's events (tests). */
export class Recorder implements SchedulerSink {
  readonly tokens = new Map<number, GeneratedToken[]>();
  readonly results = new Map<number, GenerateResult>();
  token(id: number, t: GeneratedToken): void {
    this.tokens.set(id, [...(this.tokens.get(id) ?? []), t]);
  }
  finish(id: number, r: GenerateResult): void {
    this.results.set(id, r);
  }
}
