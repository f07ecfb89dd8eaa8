/**
 * The transformer's configuration: the fields of a Hugging Face `config.json` for the Llama/Qwen3
 * family, plus gymrl's own extras (prefixed `gymrl_`). Parsing validates and fills the defaults HF
 * would use; unknown fields are kept so a loaded config saves back unchanged.
 * Not here: training hyperparameters (see sft/run.ts and model/optimizer.ts).
 */
import { z } from "zod";
import type { Llama3RopeScaling } from "./rope.ts";

export const ModelConfigSchema = z
  .looseObject({
    /** "qwen3" has per-head RMSNorm on q and k (q_norm, k_norm); "llama" has not. */
    model_type: z.enum(["qwen3", "llama"]),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive(),
    /** HF Llama configs may omit it: then hidden_size / num_attention_heads. */
    head_dim: z.number().int().positive().optional(),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().default(10000),
    /** Rows of the embedding: tokenizer ids, or compact rows when gymrl_vocab_map is set. */
    vocab_size: z.number().int().positive(),
    tie_word_embeddings: z.boolean().default(false),
    max_position_embeddings: z.number().int().positive(),
    attention_bias: z.boolean().optional(),
    mlp_bias: z.boolean().optional(),
    /** null, or Llama 3.1's {rope_type: "llama3", factor, low_freq_factor, high_freq_factor, original_max_position_embeddings} */
    rope_scaling: z.unknown().optional(),
    hidden_act: z.string().optional(),
    use_sliding_window: z.boolean().optional(),
    /**
     * Compact vocabulary: entry r is the tokenizer id of model row r, for rows 0..vocab_size-2.
     * The last row (vocab_size-1) is the unknown row: tokenizer ids not in the map read as it, and
     * the head never scores it, so it is never generated. Null or absent: rows are tokenizer ids.
     */
    gymrl_vocab_map: z.array(z.number().int().nonnegative()).nullable().optional(),
  })
  .superRefine((c, ctx) => {
    const issue = (message: string) => ctx.addIssue({ code: "custom", message });
    if (c.num_attention_heads % c.num_key_value_heads !== 0)
      issue(`num_attention_heads (${c.num_attention_heads}) must be a multiple of num_key_value_heads (${c.num_key_value_heads})`);
    const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
    if (!Number.isInteger(headDim) || headDim % 2 !== 0) issue(`head_dim must be an even integer, got ${headDim}`);
    if (c.attention_bias) issue("attention_bias: true is not supported (Qwen3/Llama checkpoints have none)");
    if (c.mlp_bias) issue("mlp_bias: true is not supported");
    const rs = ropeScalingOf(c.rope_scaling);
    if (typeof rs === "string") ctx.addIssue({ code: "custom", message: rs, path: ["rope_scaling"] });
    if (c.hidden_act !== undefined && c.hidden_act !== "silu") issue(`hidden_act "${c.hidden_act}" is not supported (SwiGLU uses silu)`);
    if (c.use_sliding_window) issue("use_sliding_window: true is not supported");
    const map = c.gymrl_vocab_map;
    if (map) {
      if (map.length !== c.vocab_size - 1)
        issue(`gymrl_vocab_map has ${map.length} entries; it must have vocab_size - 1 = ${c.vocab_size - 1} (the last row is the unknown row)`);
      if (new Set(map).size !== map.length) issue("gymrl_vocab_map has duplicate tokenizer ids");
    }
  });

export type ModelConfig = z.infer<typeof ModelConfigSchema>;

const Llama3RopeScalingSchema = z.looseObject({
  rope_type: z.literal("llama3"),
  factor: z.number().positive(),
  low_freq_factor: z.number().positive(),
  high_freq_factor: z.number().positive(),
  original_max_position_embeddings: z.number().int().positive(),
});

/**
 * `rope_scaling` as the model computes it: null for plain RoPE (absent, null or rope_type
 * "default"), Llama 3's scaling, or why it is not supported. Older configs name the type `type`.
 */
export function ropeScalingOf(raw: unknown): Llama3RopeScaling | null | string {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== "object" || Array.isArray(raw)) return "must be an object or null";
  const r = raw as Record<string, unknown>;
  const type = r.rope_type ?? r.type;
  if (type === "default") return null;
  if (type !== "llama3") return `rope_type ${JSON.stringify(type)} is not supported (only "llama3" and "default")`;
  const p = Llama3RopeScalingSchema.safeParse({ ...r, rope_type: type });
  if (!p.success) return p.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  const s = p.data;
  if (s.high_freq_factor <= s.low_freq_factor) return "high_freq_factor must exceed low_freq_factor";
  return {
    rope_type: "llama3",
    factor: s.factor,
    low_freq_factor: s.low_freq_factor,
    high_freq_factor: s.high_freq_factor,
    original_max_position_embeddings: s.original_max_position_embeddings,
  };
}

/** Parses and validates a config object (e.g. a parsed config.json), filling HF defaults. */
export function parseModelConfig(raw: unknown): ModelConfig {
  const r = ModelConfigSchema.safeParse(raw);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join(".") || "config"}: ${i.message}`).join("; ");
    throw new Error(`invalid model config: ${msg}`);
  }
  const c = r.data;
  return { ...c, head_dim: c.head_dim ?? c.hidden_size / c.num_attention_heads };
}

/** Sizes derived from a config, named as in the kernels' shape comments. */
export interface Dims {
  /** C: hidden size */
  c: number;
  /** F: MLP intermediate size */
  f: number;
  /** L: layers */
  l: number;
  /** Hq, Hkv: query and key/value heads */
  hq: number;
  hkv: number;
  /** D: head dimension */
  d: number;
  /** V: embedding rows (including the unknown row of a compact vocab) */
  v: number;
  /** rows the head scores: V, or V - 1 with a compact vocab (the unknown row is never scored) */
  vOut: number;
  /** maximum position + 1 */
  maxPos: number;
  qkNorm: boolean;
  tied: boolean;
  eps: number;
  ropeTheta: number;
  ropeScaling: Llama3RopeScaling | null;
}

export function dimsOf(cfg: ModelConfig): Dims {
  const d = cfg.head_dim ?? cfg.hidden_size / cfg.num_attention_heads;
  return {
    c: cfg.hidden_size,
    f: cfg.intermediate_size,
    l: cfg.num_hidden_layers,
    hq: cfg.num_attention_heads,
    hkv: cfg.num_key_value_heads,
    d,
    v: cfg.vocab_size,
    vOut: cfg.gymrl_vocab_map ? cfg.vocab_size - 1 : cfg.vocab_size,
    maxPos: cfg.max_position_embeddings,
    qkNorm: cfg.model_type === "qwen3",
    tied: cfg.tie_word_embeddings,
    eps: cfg.rms_norm_eps,
    ropeTheta: cfg.rope_theta,
    ropeScaling: ropeScalingOf(cfg.rope_scaling) as Llama3RopeScaling | null, // validated by the schema
  };
}

/** The config.json object to write: HF fields, with architectures and the stored dtype filled in. */
export function configToJson(cfg: ModelConfig, dtype: "float32" | "float64" = "float32"): Record<string, unknown> {
  const arch = cfg.model_type === "qwen3" ? "Qwen3ForCausalLM" : "LlamaForCausalLM";
  return { architectures: [arch], attention_bias: false, ...cfg, torch_dtype: dtype };
}
