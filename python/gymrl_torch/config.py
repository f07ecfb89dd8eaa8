"""The model's configuration: a Hugging Face config.json of the Llama/Qwen3 family plus gymrl's
extras (``gymrl_vocab_map``), validated and defaulted as src/model/config.ts does, and the vocabulary
map between tokenizer ids (what callers send) and embedding rows (what the model indexes).

Compact vocabulary: ``gymrl_vocab_map[r]`` is the tokenizer id of row r for rows 0..V-2; row V-1 is the
unknown row. Ids outside the map read as it, the head never scores it, and a target it cannot
produce gets logprob 0 (as in the TypeScript model, which treats it as "no target").
"""
from dataclasses import dataclass

import torch


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Dims:
    c: int  # hidden size
    f: int  # MLP intermediate size
    l: int  # layers
    hq: int  # query heads
    hkv: int  # key/value heads
    d: int  # head dim
    v: int  # embedding rows (including the unknown row of a compact vocab)
    v_out: int  # rows the head scores: V, or V-1 with a compact vocab
    max_pos: int
    qk_norm: bool
    tied: bool
    eps: float
    rope_theta: float


def parse_config(raw):
    """Validates a config.json dict; returns a copy with HF defaults filled (unknown fields kept)."""
    if not isinstance(raw, dict):
        raise ConfigError("config must be a JSON object")
    c = dict(raw)
    errs = []

    def need_int(k):
        v = c.get(k)
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            errs.append(f"{k}: must be a positive integer, got {v!r}")

    if c.get("model_type") not in ("qwen3", "llama"):
        errs.append(f"model_type: must be qwen3 or llama, got {c.get('model_type')!r}")
    for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "vocab_size", "max_position_embeddings"):
        need_int(k)
    if errs:
        raise ConfigError("invalid model config: " + "; ".join(errs))
    c.setdefault("rms_norm_eps", 1e-6)
    c.setdefault("rope_theta", 10000)
    c.setdefault("tie_word_embeddings", False)
    if c.get("head_dim") is None:
        c["head_dim"] = c["hidden_size"] / c["num_attention_heads"]
    hd = c["head_dim"]
    if hd != int(hd) or int(hd) % 2 != 0:
        errs.append(f"head_dim must be an even integer, got {hd}")
    else:
        c["head_dim"] = int(hd)
    if c["num_attention_heads"] % c["num_key_value_heads"] != 0:
        errs.append(f"num_attention_heads ({c['num_attention_heads']}) must be a multiple of num_key_value_heads ({c['num_key_value_heads']})")
    if c.get("attention_bias"):
        errs.append("attention_bias: true is not supported")
    if c.get("mlp_bias"):
        errs.append("mlp_bias: true is not supported")
    if c.get("rope_scaling") is not None:
        errs.append("rope_scaling is not supported")
    if c.get("hidden_act", "silu") != "silu":
        errs.append(f"hidden_act {c['hidden_act']!r} is not supported (SwiGLU uses silu)")
    if c.get("use_sliding_window"):
        errs.append("use_sliding_window: true is not supported")
    m = c.get("gymrl_vocab_map")
    if m is not None:
        if not isinstance(m, list) or any(not isinstance(x, int) or x < 0 for x in m):
            errs.append("gymrl_vocab_map must be a list of non-negative integers")
        elif len(m) != c["vocab_size"] - 1:
            errs.append(f"gymrl_vocab_map has {len(m)} entries; it must have vocab_size - 1 = {c['vocab_size'] - 1}")
        elif len(set(m)) != len(m):
            errs.append("gymrl_vocab_map has duplicate tokenizer ids")
    if errs:
        raise ConfigError("invalid model config: " + "; ".join(errs))
    return c


def dims_of(c):
    compact = c.get("gymrl_vocab_map") is not None
    return Dims(
        c=c["hidden_size"],
        f=c["intermediate_size"],
        l=c["num_hidden_layers"],
        hq=c["num_attention_heads"],
        hkv=c["num_key_value_heads"],
        d=c["head_dim"],
        v=c["vocab_size"],
        v_out=c["vocab_size"] - 1 if compact else c["vocab_size"],
        max_pos=c["max_position_embeddings"],
        qk_norm=c["model_type"] == "qwen3",
        tied=bool(c["tie_word_embeddings"]),
        eps=float(c["rms_norm_eps"]),
        rope_theta=float(c["rope_theta"]),
    )


class Vocab:
    """Tokenizer ids ↔ rows. Identity without a compact map."""

    def __init__(self, c):
        m = c.get("gymrl_vocab_map")
        self.compact = m is not None
        if self.compact:
            self.size = len(m)  # rows the head scores
            self.unk_row = len(m)
            table = torch.full((max(m, default=0) + 1,), self.unk_row, dtype=torch.long)
            table[torch.tensor(m, dtype=torch.long)] = torch.arange(len(m), dtype=torch.long)
            self.id_to_row = table
        else:
            self.size = c["vocab_size"]
            self.unk_row = -1
            self.id_to_row = None

    def check_ids(self, ids):
        """Raises ValueError naming the first id the model cannot read (only without a compact map)."""
        if self.compact or ids.numel() == 0:
            return
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= self.size:
            bad = lo if lo < 0 else hi
            raise ValueError(f"token id {bad} is outside the model's vocabulary (0..{self.size - 1})")

    def input_rows(self, ids):
        if not self.compact:
            return ids.long()
        ids = ids.long()
        inside = (ids >= 0) & (ids < self.id_to_row.numel())
        return torch.where(inside, self.id_to_row[ids.clamp(0, self.id_to_row.numel() - 1)], torch.full_like(ids, self.unk_row))

    def output_rows(self, ids):
        """Output row of each id, -1 where the head cannot produce it."""
        ids = ids.long()
        if not self.compact:
            return torch.where((ids >= 0) & (ids < self.size), ids, torch.full_like(ids, -1))
        rows = self.input_rows(ids)
        return torch.where(rows == self.unk_row, torch.full_like(rows, -1), rows)
