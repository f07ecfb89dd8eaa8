"""Checkpoints in gymrl's layout (src/model/checkpoint.ts), which is Hugging Face's plus two files:
config.json, model.safetensors (HF tensor names; or sharded with model.safetensors.index.json),
optimizer.safetensors (AdamW moments named "exp_avg.<name>" / "exp_avg_sq.<name>", metadata t and
config) and trainer_state.json. Writes are atomic: a temporary sibling directory, every file
fsynced, then renamed into place (the old directory moved aside first, then removed).
"""
import json
import os
import shutil
import time

import torch

from . import safetensors as st


def read_model_tensors(path):
    single = os.path.join(path, "model.safetensors")
    if os.path.exists(single):
        return st.load_file(single)[1]
    index = os.path.join(path, "model.safetensors.index.json")
    if not os.path.exists(index):
        raise FileNotFoundError(f"{path} has neither model.safetensors nor model.safetensors.index.json")
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(weight_map.values())):
        out.update(st.load_file(os.path.join(path, shard))[1])
    return out


def read_config(path):
    with open(os.path.join(path, "config.json")) as f:
        return json.load(f)


def check_tensors(shapes, tensors, moments=None):
    """Raises ValueError unless every parameter (and, given moments, both its AdamW moments) is there
    with the shape the model needs. shapes: {name: [dims]}."""
    for name, shape in shapes.items():
        for key, src in [(name, tensors)] + ([("exp_avg." + name, moments), ("exp_avg_sq." + name, moments)] if moments is not None else []):
            t = src.get(key)
            if t is None:
                raise ValueError(f"checkpoint lacks tensor {key}")
            if list(t.shape) != list(shape):
                raise ValueError(f"tensor {key} has shape {list(t.shape)}, the config needs {list(shape)}")
            if not t.is_floating_point():
                raise ValueError(f"tensor {key} is {t.dtype}, not a float tensor")


def read_optimizer(path):
    """(t, saved AdamW config dict, {name: tensor}) or None when the directory has no optimizer state."""
    p = os.path.join(path, "optimizer.safetensors")
    if not os.path.exists(p):
        return None
    meta, tensors = st.load_file(p)
    cfg = json.loads(meta["config"]) if "config" in meta else {}
    return int(float(meta.get("t", "0"))), cfg, tensors


def read_state(path):
    p = os.path.join(path, "trainer_state.json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def _write_synced(path, data):
    with open(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(path, config, named_params, optimizer=None, state=None):
    """Writes a checkpoint directory atomically. named_params: [(HF name, tensor)] in layout order;
    optimizer: (t, config dict, {name: (exp_avg, exp_avg_sq)}) or None; state: a JSON-able dict or None."""
    path = os.path.abspath(path)
    parent, base = os.path.dirname(path), os.path.basename(path)
    os.makedirs(parent, exist_ok=True)
    tag = f"{os.getpid()}-{int(time.time() * 1000)}"
    tmp = os.path.join(parent, f".{base}.tmp-{tag}")
    os.mkdir(tmp)
    try:
        cfg = dict(config)
        cfg.setdefault("architectures", ["Qwen3ForCausalLM" if cfg.get("model_type") == "qwen3" else "LlamaForCausalLM"])
        cfg.setdefault("attention_bias", False)
        cfg["torch_dtype"] = "float32"
        _write_synced(os.path.join(tmp, "config.json"), json.dumps(cfg, indent=2) + "\n")
        weights = [(n, t.detach().float()) for n, t in named_params]
        _write_synced(os.path.join(tmp, "model.safetensors"), st.serialize(weights, {"format": "pt"}))
        if optimizer is not None:
            t, ocfg, moments = optimizer
            names = [n for n, _ in named_params]
            tensors = [(f"exp_avg.{n}", moments[n][0].float()) for n in names] + [(f"exp_avg_sq.{n}", moments[n][1].float()) for n in names]
            _write_synced(os.path.join(tmp, "optimizer.safetensors"), st.serialize(tensors, {"t": str(t), "config": json.dumps(ocfg, separators=(",", ":"))}))
        if state is not None:
            _write_synced(os.path.join(tmp, "trainer_state.json"), json.dumps(state, indent=2) + "\n")
        _fsync_dir(tmp)
        old = os.path.join(parent, f".{base}.old-{tag}")
        had_old = os.path.exists(path)
        if had_old:
            os.rename(path, old)
        os.rename(tmp, path)
        _fsync_dir(parent)
        if had_old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
