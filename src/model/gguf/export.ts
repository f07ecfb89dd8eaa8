/**
 * A gymrl / Hugging Face checkpoint directory → one GGUF file that llama.cpp loads: the "qwen3" or
 * "llama" architecture's hyperparameters, tensors under llama.cpp's names (F32, or F16 for the
 * matrices), and the tokenizer's vocabulary, merges, token types, special ids and chat template.
 * What llama.cpp's convert_hf_to_gguf.py does for these two families, and nothing else:
 *  - Llama's q/k projections are permuted (llama.cpp applies RoPE to adjacent pairs, HF to halves);
 *    Qwen3 uses llama.cpp's NEOX RoPE, so its weights go as they are.
 *  - Llama 3.1 rope scaling becomes the rope_freqs.weight tensor of per-frequency factors.
 *  - A tied head is not written (llama.cpp reuses token_embd.weight).
 * A compact vocabulary (config gymrl_vocab_map) is expanded to the tokenizer's ids: ids outside the
 * map embed as the unknown row, as in gymrl; the head is written untied with zero rows for them,
 * so llama.cpp scores them 0 where gymrl never produces them (a caller bans them with a logit bias;
 * `unscoredIds` lists them).
 */
import { join } from "node:path";

import { referenceKernels } from "../../tensor/index.ts";
import { loadModel } from "../checkpoint.ts";
import { dimsOf } from "../config.ts";
import { Vocab } from "../vocab.ts";
import { GgufExportError, tokenizerMetadata } from "./tokenizer-metadata.ts";
import { type GgufTensor, type GgufValue, type TensorDType, writeGguf } from "./writer.ts";

export { GgufExportError } from "./tokenizer-metadata.ts";

export interface GgufExportOptions {
  /** "f32" (default) or "f16": the dtype of the 2-D tensors; norms and rope factors stay F32, as the converter keeps them. */
  dtype?: "f32" | "f16";
  /** Directory of tokenizer.json / tokenizer_config.json / chat template; default the checkpoint directory. */
  tokenizerDir?: string;
  /** general.name; default the checkpoint directory's name. */
  name?: string;
}

export interface GgufExportResult {
  architecture: "qwen3" | "llama";
  /** Rows of token_embd.weight (the GGUF's vocabulary size). */
  vocabSize: number;
  tensors: number;
  /** Tokenizer ids the exported head scores but gymrl's never produces (compact vocabularies): ban them for identical sampling. */
  unscoredIds: number[];
}

/** HF's [n_head·D, C] q/k projection with rotate-half pairing → llama.cpp's adjacent pairing (convert_hf_to_gguf LlamaModel.permute). */
export function permuteForRope(w: Float32Array, nHead: number, c: number): Float32Array {
  const rows = w.length / c;
  const half = rows / nHead / 2;
  const out = new Float32Array(w.length);
  // reshape(nHead, 2, half, C).swapaxes(1, 2): new row (h, i, j) = old row (h, j, i)
  for (let h = 0; h < nHead; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const src = (h * 2 * half + j * half + i) * c;
        const dst = (h * 2 * half + i * 2 + j) * c;
        out.set(w.subarray(src, src + c), dst);
      }
  return out;
}

/** Llama 3.1 rope scaling as llama.cpp's per-frequency divisors (convert_hf_to_gguf LlamaModel.generate_extra_tensors). */
function llama3RopeFactors(
  headDim: number,
  theta: number,
  s: { factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number },
): Float32Array {
  const out = new Float32Array(headDim / 2);
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  for (let i = 0; i < headDim / 2; i++) {
    const freq = 1 / Math.fround(theta ** Math.fround((2 * i) / headDim));
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

/** Writes `ckptDir` as a GGUF file at `outPath`. Errors name the file and field at fault. */
export function exportGguf(ckptDir: string, outPath: string, opts: GgufExportOptions = {}): GgufExportResult {
  const dtype: TensorDType = (opts.dtype ?? "f32") === "f16" ? "F16" : "F32";
  if (opts.dtype !== undefined && opts.dtype !== "f32" && opts.dtype !== "f16") throw new GgufExportError(`dtype must be f32 or f16, got ${JSON.stringify(opts.dtype)}`);
  const model = loadModel(ckptDir, { kernels: referenceKernels, dtype: "float32" });
  const cfg = model.config;
  const dm = dimsOf(cfg);
  const arch = cfg.model_type;
  if (arch === "qwen3" && dm.ropeScaling) throw new GgufExportError(`${join(ckptDir, "config.json")}: rope_scaling on a qwen3 model has no llama.cpp equivalent here`);
  const vocab = new Vocab(cfg);
  const tokDir = opts.tokenizerDir ?? ckptDir;
  const tok = tokenizerMetadata(tokDir, arch, vocab.compact ? undefined : dm.v);
  const nVocab = vocab.compact ? tok.size : dm.v;
  if (vocab.compact) {
    const maxId = Math.max(...vocab.rowToId);
    if (maxId >= nVocab) throw new GgufExportError(`${join(ckptDir, "config.json")}: gymrl_vocab_map holds id ${maxId}, outside the tokenizer's ${nVocab} ids (${tokDir})`);
  }
  // unpadded (compact) or padded to the embedding rows, it covers exactly nVocab ids
  const tokMeta = tok.metadata;

  const p = model.params;
  const f32 = (a: ArrayLike<number>) => (a instanceof Float32Array ? a : Float32Array.from(a));
  const c = dm.c;
  const mat = (name: string, shape: number[], data: Float32Array): GgufTensor => ({ name, shape, dtype, data });
  const vec = (name: string, data: ArrayLike<number>): GgufTensor => ({ name, shape: [data.length], dtype: "F32", data: f32(data) });

  const unscoredIds: number[] = [];
  let embed = f32(p.embed);
  let head: Float32Array | null = dm.tied ? null : f32(p.head);
  if (vocab.compact) {
    const e = new Float32Array(nVocab * c);
    const h = new Float32Array(nVocab * c);
    for (let id = 0; id < nVocab; id++) {
      const inRow = vocab.inputRow(id);
      e.set(p.embed.subarray(inRow * c, inRow * c + c), id * c);
      const outRow = vocab.outputRow(id);
      if (outRow >= 0) h.set(p.head.subarray(outRow * c, outRow * c + c), id * c);
      else unscoredIds.push(id);
    }
    embed = e;
    head = h;
  }

  const tensors: GgufTensor[] = [mat("token_embd.weight", [nVocab, c], embed)];
  if (dm.ropeScaling) tensors.push(vec("rope_freqs.weight", llama3RopeFactors(dm.d, dm.ropeTheta, dm.ropeScaling)));
  p.layers.forEach((L, i) => {
    const b = `blk.${i}.`;
    let wq = f32(L.wq);
    let wk = f32(L.wk);
    if (arch === "llama") {
      wq = permuteForRope(wq, dm.hq, c);
      wk = permuteForRope(wk, dm.hkv, c);
    }
    tensors.push(vec(`${b}attn_norm.weight`, L.inputNorm));
    tensors.push(mat(`${b}attn_q.weight`, [dm.hq * dm.d, c], wq));
    tensors.push(mat(`${b}attn_k.weight`, [dm.hkv * dm.d, c], wk));
    tensors.push(mat(`${b}attn_v.weight`, [dm.hkv * dm.d, c], f32(L.wv)));
    tensors.push(mat(`${b}attn_output.weight`, [c, dm.hq * dm.d], f32(L.wo)));
    if (dm.qkNorm) {
      tensors.push(vec(`${b}attn_q_norm.weight`, L.qNorm));
      tensors.push(vec(`${b}attn_k_norm.weight`, L.kNorm));
    }
    tensors.push(vec(`${b}ffn_norm.weight`, L.postNorm));
    tensors.push(mat(`${b}ffn_gate.weight`, [dm.f, c], f32(L.wGate)));
    tensors.push(mat(`${b}ffn_up.weight`, [dm.f, c], f32(L.wUp)));
    tensors.push(mat(`${b}ffn_down.weight`, [c, dm.f], f32(L.wDown)));
  });
  tensors.push(vec("output_norm.weight", p.norm));
  if (head) tensors.push(mat("output.weight", [nVocab, c], head));

  const a = (k: string) => `${arch}.${k}`;
  const u32 = (value: number): GgufValue => ({ type: "u32", value });
  const metadata: Array<[string, GgufValue]> = [
    ["general.architecture", { type: "string", value: arch }],
    ["general.name", { type: "string", value: opts.name ?? (ckptDir.split(/[\\/]/).filter(Boolean).pop() ?? "gymrl") }],
    // llama_ftype: ALL_F32 = 0, MOSTLY_F16 = 1
    ["general.file_type", u32(dtype === "F32" ? 0 : 1)],
    [a("context_length"), u32(dm.maxPos)],
    [a("embedding_length"), u32(c)],
    [a("block_count"), u32(dm.l)],
    [a("feed_forward_length"), u32(dm.f)],
    [a("attention.head_count"), u32(dm.hq)],
    [a("attention.head_count_kv"), u32(dm.hkv)],
    [a("attention.key_length"), u32(dm.d)],
    [a("attention.value_length"), u32(dm.d)],
    [a("rope.dimension_count"), u32(dm.d)],
    [a("rope.freq_base"), { type: "f32", value: dm.ropeTheta }],
    [a("attention.layer_norm_rms_epsilon"), { type: "f32", value: dm.eps }],
    [a("vocab_size"), u32(nVocab)],
    ...tokMeta,
  ];
  writeGguf(outPath, metadata, tensors);
  return { architecture: arch, vocabSize: nVocab, tensors: tensors.length, unscoredIds };
}
