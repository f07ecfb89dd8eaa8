/**
 * Parameters in one flat buffer with named views (llm.c's malloc_and_point_parameters). Gradients
 * and AdamW moments use the same layout, so the optimizer is a loop over the flat buffer and a
 * weight sync (refit) is one buffer copy or swap. Tensor names are Hugging Face's.
 *
 * Layout, in order: embed_tokens; per layer: input_layernorm, q_proj, k_proj, v_proj, o_proj,
 * [q_norm, k_norm], post_attention_layernorm, gate_proj, up_proj, down_proj; norm; [lm_head].
 */
import type { FloatArray } from "../tensor/kernels.ts";
import type { Dims } from "./config.ts";
import { Rng } from "./rng.ts";

export type DType = "float32" | "float64";

export function allocFloat(dtype: DType, n: number): FloatArray {
  return dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
}

export type ParamKind = "embedding" | "norm" | "matrix" | "head";

export interface ParamSpec {
  /** Hugging Face tensor name, e.g. "model.layers.0.self_attn.q_proj.weight" */
  name: string;
  shape: number[];
  offset: number;
  size: number;
  kind: ParamKind;
}

export interface LayerParams {
  inputNorm: FloatArray; // (C)
  wq: FloatArray; // (Hq·D, C)
  wk: FloatArray; // (Hkv·D, C)
  wv: FloatArray; // (Hkv·D, C)
  wo: FloatArray; // (C, Hq·D)
  qNorm: FloatArray; // (D), empty without QK-norm
  kNorm: FloatArray; // (D), empty without QK-norm
  postNorm: FloatArray; // (C)
  wGate: FloatArray; // (F, C)
  wUp: FloatArray; // (F, C)
  wDown: FloatArray; // (C, F)
}

export interface ParamTensors {
  flat: FloatArray;
  embed: FloatArray; // (V, C)
  layers: LayerParams[];
  norm: FloatArray; // (C)
  /** (V, C): a view of embed when tied */
  head: FloatArray;
}

export function paramSpecs(dm: Dims): ParamSpec[] {
  const specs: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], kind: ParamKind) => {
    const size = shape.reduce((a, b) => a * b, 1);
    specs.push({ name, shape, offset, size, kind });
    offset += size;
  };
  const { c, f, hq, hkv, d, v } = dm;
  add("model.embed_tokens.weight", [v, c], "embedding");
  for (let l = 0; l < dm.l; l++) {
    const p = `model.layers.${l}.`;
    add(`${p}input_layernorm.weight`, [c], "norm");
    add(`${p}self_attn.q_proj.weight`, [hq * d, c], "matrix");
    add(`${p}self_attn.k_proj.weight`, [hkv * d, c], "matrix");
    add(`${p}self_attn.v_proj.weight`, [hkv * d, c], "matrix");
    add(`${p}self_attn.o_proj.weight`, [c, hq * d], "matrix");
    if (dm.qkNorm) {
      add(`${p}self_attn.q_norm.weight`, [d], "norm");
      add(`${p}self_attn.k_norm.weight`, [d], "norm");
    }
    add(`${p}post_attention_layernorm.weight`, [c], "norm");
    add(`${p}mlp.gate_proj.weight`, [f, c], "matrix");
    add(`${p}mlp.up_proj.weight`, [f, c], "matrix");
    add(`${p}mlp.down_proj.weight`, [c, f], "matrix");
  }
  add("model.norm.weight", [c], "norm");
  if (!dm.tied) add("lm_head.weight", [v, c], "head");
  return specs;
}

export function numParamsOf(specs: ParamSpec[]): number {
  const last = specs[specs.length - 1];
  return last.offset + last.size;
}

/** Points named views into a flat buffer laid out by `specs`. */
export function pointParams(flat: FloatArray, specs: ParamSpec[], dm: Dims): ParamTensors {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const view = (name: string): FloatArray => {
    const s = byName.get(name);
    if (!s) return flat.subarray(0, 0);
    return flat.subarray(s.offset, s.offset + s.size);
  };
  const layers: LayerParams[] = [];
  for (let l = 0; l < dm.l; l++) {
    const p = `model.layers.${l}.`;
    layers.push({
      inputNorm: view(`${p}input_layernorm.weight`),
      wq: view(`${p}self_attn.q_proj.weight`),
      wk: view(`${p}self_attn.k_proj.weight`),
      wv: view(`${p}self_attn.v_proj.weight`),
      wo: view(`${p}self_attn.o_proj.weight`),
      qNorm: view(`${p}self_attn.q_norm.weight`),
      kNorm: view(`${p}self_attn.k_norm.weight`),
      postNorm: view(`${p}post_attention_layernorm.weight`),
      wGate: view(`${p}mlp.gate_proj.weight`),
      wUp: view(`${p}mlp.up_proj.weight`),
      wDown: view(`${p}mlp.down_proj.weight`),
    });
  }
  const embed = view("model.embed_tokens.weight");
  return {
    flat,
    embed,
    layers,
    norm: view("model.norm.weight"),
    head: dm.tied ? embed : view("lm_head.weight"),
  };
}

/**
 * Deterministic initialisation: norms 1; embeddings, head and projections N(0, 0.02²); the two
 * projections that write into the residual stream (o_proj, down_proj) scaled by 1/sqrt(2L), as in
 * GPT-2, so the residual stream's variance does not grow with depth.
 */
export function initParams(flat: FloatArray, specs: ParamSpec[], dm: Dims, seed: number): void {
  const rng = new Rng(seed);
  const std = 0.02;
  const residStd = std / Math.sqrt(2 * dm.l);
  for (const s of specs) {
    const view = flat.subarray(s.offset, s.offset + s.size);
    if (s.kind === "norm") {
      view.fill(1);
      continue;
    }
    const sd = s.name.endsWith("o_proj.weight") || s.name.endsWith("down_proj.weight") ? residStd : std;
    for (let i = 0; i < view.length; i++) view[i] = rng.normal() * sd;
  }
}
