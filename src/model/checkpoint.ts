/**
 * Checkpoints as Hugging Face lays them out: a directory with config.json and model.safetensors
 * (HF tensor names), plus gymrl's optimizer.safetensors (AdamW moments, same names prefixed
 * "exp_avg." / "exp_avg_sq.") and trainer_state.json (step and caller extras).
 * Writes are atomic: everything goes to a temporary sibling directory, each file is fsynced, and
 * the directory is renamed into place. Loading also reads plain HF checkpoints (F32/BF16/F16,
 * single-file or sharded with model.safetensors.index.json), converting to the model's dtype.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Kernels } from "../tensor/kernels.ts";
import { configToJson, parseModelConfig } from "./config.ts";
import { Model } from "./model.ts";
import { AdamW, type AdamWConfig } from "./optimizer.ts";
import type { DType } from "./params.ts";
import { type TensorInfo, parseSafetensors, readFloatTensor, serializeSafetensors } from "./safetensors.ts";

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

function fsyncDir(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Saves model (+ optimizer and trainer state when given) to dir, atomically replacing it. */
export function saveCheckpoint(dir: string, model: Model, optimizer?: AdamW, state?: TrainerState): void {
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

/** Reads every tensor of a checkpoint directory: model.safetensors, or the shards of an index. */
function readModelTensors(dir: string): Map<string, TensorInfo> {
  const single = join(dir, "model.safetensors");
  if (existsSync(single)) return parseSafetensors(readFileSync(single)).tensors;
  const indexPath = join(dir, "model.safetensors.index.json");
  if (!existsSync(indexPath)) throw new Error(`${dir} has neither model.safetensors nor model.safetensors.index.json`);
  const index = JSON.parse(readFileSync(indexPath, "utf8")) as { weight_map: Record<string, string> };
  const all = new Map<string, TensorInfo>();
  for (const shard of new Set(Object.values(index.weight_map)))
    for (const [name, t] of parseSafetensors(readFileSync(join(dir, shard))).tensors) all.set(name, t);
  return all;
}

export interface LoadOptions {
  kernels: Kernels;
  dtype?: DType;
}

/** Loads a model from a gymrl or Hugging Face checkpoint directory. */
export function loadModel(dir: string, opts: LoadOptions): Model {
  const config = parseModelConfig(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")));
  const model = new Model(config, { kernels: opts.kernels, dtype: opts.dtype ?? "float32" });
  const tensors = readModelTensors(dir);
  const flat = model.params.flat;
  for (const s of model.specs) {
    const t = tensors.get(s.name);
    if (!t) throw new Error(`checkpoint ${dir} lacks tensor ${s.name}`);
    if (t.shape.length !== s.shape.length || t.shape.some((x, i) => x !== s.shape[i]))
      throw new Error(`tensor ${s.name} has shape [${t.shape}], the config needs [${s.shape}]`);
    readFloatTensor(t, flat.subarray(s.offset, s.offset + s.size));
  }
  return model;
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
