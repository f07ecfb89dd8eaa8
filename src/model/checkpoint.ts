/**
 * Checkpoints as Hugging Face lays them out: a directory with config.json and model.safetensors
 * (HF tensor names), plus gymrl's optimizer.safetensors (AdamW moments, same names prefixed
 * "exp_avg." / "exp_avg_sq.") and trainer_state.json (step and caller extras).
 * Writes are atomic: everything goes to a temporary sibling directory, each file is fsynced, and
 * the directory is renamed into place. Loading also reads plain HF checkpoints (F32/BF16/F16,
 * single-file or sharded with model.safetensors.index.json), converting to the model's dtype.
 * A model loaded from a directory remembers it: saving it copies that directory's tokenizer, chat
 * template and generation config (HF_AUX_FILES), so what gymrl writes loads wherever HF checkpoints do.
 */
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Kernels } from "../tensor/kernels.ts";
import { configToJson, dimsOf, type ModelConfig, parseModelConfig } from "./config.ts";
import { Model } from "./model.ts";
import { AdamW, type AdamWConfig } from "./optimizer.ts";
import { type DType, paramSpecs } from "./params.ts";
import { type TensorInfo, parseSafetensors, readFloatTensor, serializeSafetensors } from "./safetensors.ts";

/** A model directory that cannot be loaded; the message names the file and the field at fault. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export interface TrainerState {
  step: number;
  [key: string]: unknown;
}

function writeFileSynced(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, "w");
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** So that a rename in the directory survives a power cut, not only a killed process. */
export function fsyncDir(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The files of an HF model directory besides config.json and the weights: tokenizer, chat template, generation config. */
export const HF_AUX_FILES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "chat_template.jinja",
  "generation_config.json",
  "vocab.json",
  "merges.txt",
  "added_tokens.json",
] as const;

/** The directory each loaded model came from, so that saving it can carry its HF_AUX_FILES along. */
const sourceDirs = new WeakMap<Model, string>();

/** The directory `model` was loaded from (loadModel / loadCheckpoint), or undefined. */
export function modelSourceDir(model: Model): string | undefined {
  return sourceDirs.get(model);
}

/**
 * Marks `model` as coming from `dir` (a model built over another's weights, e.g. on a shared
 * buffer), so that saving it carries `dir`'s tokenizer and template along.
 */
export function setModelSourceDir(model: Model, dir: string): void {
  sourceDirs.set(model, dir);
}

export interface SaveOptions {
  /** Copy HF_AUX_FILES present there into the checkpoint; default: the directory the model was loaded from; null: none. */
  auxFrom?: string | null;
}

/** Saves model (+ optimizer and trainer state when given) to dir, atomically replacing it. */
export function saveCheckpoint(dir: string, model: Model, optimizer?: AdamW, state?: TrainerState, options: SaveOptions = {}): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tag = `${process.pid}-${Date.now()}`;
  const tmp = join(parent, `.${basename(dir)}.tmp-${tag}`);
  mkdirSync(tmp);
  try {
    writeFileSynced(join(tmp, "config.json"), JSON.stringify(configToJson(model.config, model.dtype), null, 2) + "\n");
    const flat = model.params.flat;
    writeFileSynced(
      join(tmp, "model.safetensors"),
      serializeSafetensors(
        model.specs.map((s) => ({ name: s.name, shape: s.shape, data: flat.subarray(s.offset, s.offset + s.size) })),
        { format: "pt" },
      ),
    );
    if (optimizer) {
      const moments = [
        ...model.specs.map((s) => ({ name: `exp_avg.${s.name}`, shape: s.shape, data: optimizer.m.subarray(s.offset, s.offset + s.size) })),
        ...model.specs.map((s) => ({ name: `exp_avg_sq.${s.name}`, shape: s.shape, data: optimizer.v.subarray(s.offset, s.offset + s.size) })),
      ];
      writeFileSynced(
        join(tmp, "optimizer.safetensors"),
        serializeSafetensors(moments, { t: String(optimizer.t), config: JSON.stringify(optimizer.cfg) }),
      );
    }
    if (state) writeFileSynced(join(tmp, "trainer_state.json"), JSON.stringify(state, null, 2) + "\n");
    const auxFrom = options.auxFrom === undefined ? sourceDirs.get(model) : options.auxFrom;
    if (auxFrom) {
      for (const name of HF_AUX_FILES) {
        if (!existsSync(join(auxFrom, name))) continue;
        copyFileSync(join(auxFrom, name), join(tmp, name));
        fsyncFile(join(tmp, name));
      }
    }
    fsyncDir(tmp);
    // swap into place: the old checkpoint (if any) is moved aside, then removed
    const old = join(parent, `.${basename(dir)}.old-${tag}`);
    const hadOld = existsSync(dir);
    if (hadOld) renameSync(dir, old);
    renameSync(tmp, dir);
    fsyncDir(parent);
    if (hadOld) rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The weight files of a model directory: model.safetensors, or the shards model.safetensors.index.json names. */
function weightFiles(dir: string): { files: string[]; named: string } {
  if (existsSync(join(dir, "model.safetensors"))) return { files: ["model.safetensors"], named: "model.safetensors" };
  const indexPath = join(dir, "model.safetensors.index.json");
  if (!existsSync(indexPath)) throw new CheckpointError(`${dir}: missing model.safetensors (and no model.safetensors.index.json for shards)`);
  const map = (readJson(indexPath) as { weight_map?: unknown }).weight_map;
  if (typeof map !== "object" || map === null || Object.values(map).some((f) => typeof f !== "string")) {
    throw new CheckpointError(`${indexPath}: weight_map must map tensor names to shard file names`);
  }
  const files = [...new Set(Object.values(map as Record<string, string>))];
  for (const f of files) if (!existsSync(join(dir, f))) throw new CheckpointError(`${join(dir, f)}: missing (named by model.safetensors.index.json weight_map)`);
  return { files, named: "model.safetensors.index.json" };
}

/** Name → dtype and shape of every tensor, from the files' headers alone (a few KB read per file). */
function readTensorHeaders(dir: string, files: string[]): Map<string, { dtype: string; shape: number[]; file: string }> {
  const out = new Map<string, { dtype: string; shape: number[]; file: string }>();
  for (const file of files) {
    const path = join(dir, file);
    const fd = openSync(path, "r");
    try {
      const len = Buffer.alloc(8);
      if (readSync(fd, len, 0, 8, 0) !== 8) throw new CheckpointError(`${path}: not a safetensors file (shorter than 8 bytes)`);
      const n = Number(len.readBigUInt64LE(0));
      if (n > 100_000_000) throw new CheckpointError(`${path}: not a safetensors file (header length ${n})`);
      const head = Buffer.alloc(n);
      if (readSync(fd, head, 0, n, 8) !== n) throw new CheckpointError(`${path}: not a safetensors file (header runs past the end)`);
      let header: Record<string, { dtype?: string; shape?: number[] }>;
      try {
        header = JSON.parse(head.toString("utf8")) as typeof header;
      } catch (e) {
        throw new CheckpointError(`${path}: not a safetensors file (header is not JSON: ${(e as Error).message})`);
      }
      for (const [name, t] of Object.entries(header)) {
        if (name !== "__metadata__") out.set(name, { dtype: String(t.dtype), shape: t.shape ?? [], file });
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

/** Every tensor of a model directory with its data, keyed by name. */
function readModelTensors(dir: string, files: string[]): Map<string, TensorInfo> {
  const all = new Map<string, TensorInfo>();
  for (const file of files) {
    const path = join(dir, file);
    try {
      for (const [name, t] of parseSafetensors(readFileSync(path)).tensors) all.set(name, t);
    } catch (e) {
      throw new CheckpointError(`${path}: not a safetensors file: ${(e as Error).message}`);
    }
  }
  return all;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** The config.json fields a tensor's shape comes from, for error messages. */
function shapeFields(name: string): string {
  const heads = (h: string) => `${h} × head_dim`;
  if (/embed_tokens|lm_head/.test(name)) return "[vocab_size, hidden_size]";
  if (/q_proj/.test(name)) return `[${heads("num_attention_heads")}, hidden_size]`;
  if (/[kv]_proj/.test(name)) return `[${heads("num_key_value_heads")}, hidden_size]`;
  if (/o_proj/.test(name)) return `[hidden_size, ${heads("num_attention_heads")}]`;
  if (/gate_proj|up_proj/.test(name)) return "[intermediate_size, hidden_size]";
  if (/down_proj/.test(name)) return "[hidden_size, intermediate_size]";
  if (/[qk]_norm/.test(name)) return "[head_dim]";
  return "[hidden_size]";
}

export interface LoadOptions {
  kernels: Kernels;
  dtype?: DType;
}

/** Loads a model from a gymrl or Hugging Face checkpoint directory. */
export function loadModel(dir: string, opts: LoadOptions): Model {
  const { config, files } = inspectModelDir(dir);
  const tensors = readModelTensors(dir, files);
  const model = new Model(config, { kernels: opts.kernels, dtype: opts.dtype ?? "float32" });
  const flat = model.params.flat;
  for (const s of model.specs) readFloatTensor(tensors.get(s.name)!, flat.subarray(s.offset, s.offset + s.size));
  sourceDirs.set(model, dir);
  return model;
}

/**
 * Checks a model directory the way loadModel would, from config.json and the weights' headers only
 * (no tensor data is read): a missing file, an invalid or unsupported config, a missing tensor, a
 * shape that contradicts config.json or a dtype that is not a float each throw a CheckpointError
 * naming the file and field. Returns the parsed config.
 */
export function checkModelDir(dir: string): ModelConfig {
  return inspectModelDir(dir).config;
}

function inspectModelDir(dir: string): { config: ModelConfig; files: string[] } {
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath)) throw new CheckpointError(`${configPath}: missing (a model directory needs config.json)`);
  let config: ModelConfig;
  try {
    config = parseModelConfig(readJson(configPath));
  } catch (e) {
    throw new CheckpointError(`${configPath}: ${(e as Error).message}`);
  }
  const { files, named } = weightFiles(dir);
  const headers = readTensorHeaders(dir, files);
  for (const s of paramSpecs(dimsOf(config))) {
    const t = headers.get(s.name);
    if (!t) throw new CheckpointError(`${join(dir, named)}: no tensor ${s.name}, which config.json (model_type ${config.model_type}) needs`);
    if (t.shape.length !== s.shape.length || t.shape.some((x, i) => x !== s.shape[i])) {
      throw new CheckpointError(`${join(dir, t.file)}: tensor ${s.name} has shape [${t.shape}], but config.json ${shapeFields(s.name)} gives [${s.shape}]`);
    }
    if (!["F32", "F64", "BF16", "F16"].includes(t.dtype)) {
      throw new CheckpointError(`${join(dir, t.file)}: tensor ${s.name} has dtype ${t.dtype}; weights must be F32, BF16, F16 or F64`);
    }
  }
  return { config, files };
}

export interface LoadedCheckpoint {
  model: Model;
  optimizer: AdamW | null;
  state: TrainerState | null;
}

/** Loads a model plus, when present, its optimizer and trainer state (to resume training). */
export function loadCheckpoint(dir: string, opts: LoadOptions & { adamw?: Partial<AdamWConfig> }): LoadedCheckpoint {
  const model = loadModel(dir, opts);
  let optimizer: AdamW | null = null;
  const optPath = join(dir, "optimizer.safetensors");
  if (existsSync(optPath)) {
    const f = parseSafetensors(readFileSync(optPath));
    const saved = f.metadata.config ? (JSON.parse(f.metadata.config) as Partial<AdamWConfig>) : {};
    optimizer = new AdamW(model, { ...saved, ...opts.adamw });
    optimizer.t = Number(f.metadata.t ?? 0);
    for (const s of model.specs) {
      for (const [prefix, buf] of [["exp_avg.", optimizer.m], ["exp_avg_sq.", optimizer.v]] as const) {
        const t = f.tensors.get(prefix + s.name);
        if (!t) throw new Error(`optimizer state in ${dir} lacks ${prefix + s.name}`);
        readFloatTensor(t, buf.subarray(s.offset, s.offset + s.size));
      }
    }
  }
  const statePath = join(dir, "trainer_state.json");
  const state = existsSync(statePath) ? (JSON.parse(readFileSync(statePath, "utf8")) as TrainerState) : null;
  return { model, optimizer, state };
}
