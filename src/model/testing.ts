/**
 * Small fixtures shared by the model's tests: tiny configs and parameter randomisation large enough
 * that finite differences see every path. Test support only; nothing in the library imports it.
 */
import type { ModelConfig } from "./config.ts";
import type { Model } from "./model.ts";
import { Rng } from "./rng.ts";

/** A tiny Qwen3-style config with a compact vocabulary of `ids` (unknown row last). */
export function tinyConfig(overrides: Partial<ModelConfig> = {}): ModelConfig {
  const ids = [3, 5, 8, 13, 21, 34, 55, 89, 144];
  return {
    model_type: "qwen3",
    hidden_size: 8,
    intermediate_size: 12,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 4,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    vocab_size: ids.length + 1,
    tie_word_embeddings: false,
    max_position_embeddings: 32,
    gymrl_vocab_map: ids,
    ...overrides,
  };
}

/** Overwrites every parameter with N(0, scale²), norms with 1 + N(0, 0.3²). */
export function randomizeParams(model: Model, seed: number, scale = 0.5): void {
  const rng = new Rng(seed);
  for (const s of model.specs) {
    const v = model.params.flat.subarray(s.offset, s.offset + s.size);
    for (let i = 0; i < v.length; i++) v[i] = s.kind === "norm" ? 1 + 0.3 * rng.normal() : scale * rng.normal();
  }
}
