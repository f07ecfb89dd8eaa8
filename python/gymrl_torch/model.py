"""The Llama/Qwen3-family decoder in PyTorch, with Hugging Face tensor names, matching
src/model/model.ts: embedding → L × [RMSNorm → q,k,v → (QK-norm) → RoPE → causal GQA attention →
o_proj → residual → RMSNorm → SwiGLU → residual] → RMSNorm → head → log p(target) and entropy of
softmax(logits / T).

Batches are packed like gymrl's (S sequences end to end, offsets (S+1,)); inside, they are padded to
(S, Lmax) with right padding, so a causal mask alone keeps real positions from seeing pads.
Parameters register in gymrl's flat-buffer order (src/model/params.ts), so ``parameters()`` walks
the same tensors in the same order as the TypeScript flat buffer, gradients included.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import Vocab, dims_of, parse_config

_SDPA = getattr(F, "scaled_dot_product_attention", None)  # torch >= 2.0


class RMSNorm(nn.Module):
    def __init__(self, n, eps, dtype):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n, dtype=dtype))

    def forward(self, x):
        # out = x · (mean(x²) + eps)^-1/2 · w, per row
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def _linear(n_in, n_out, dtype):
    return nn.Linear(n_in, n_out, bias=False, dtype=dtype)


class Attention(nn.Module):
    def __init__(self, dm, dtype):
        super().__init__()
        self.dm = dm
        self.q_proj = _linear(dm.c, dm.hq * dm.d, dtype)
        self.k_proj = _linear(dm.c, dm.hkv * dm.d, dtype)
        self.v_proj = _linear(dm.c, dm.hkv * dm.d, dtype)
        self.o_proj = _linear(dm.hq * dm.d, dm.c, dtype)
        if dm.qk_norm:
            self.q_norm = RMSNorm(dm.d, dm.eps, dtype)
            self.k_norm = RMSNorm(dm.d, dm.eps, dtype)

    def forward(self, x, cos, sin):
        dm = self.dm
        B, L, _ = x.shape
        q = self.q_proj(x).view(B, L, dm.hq, dm.d)
        k = self.k_proj(x).view(B, L, dm.hkv, dm.d)
        v = self.v_proj(x).view(B, L, dm.hkv, dm.d)
        if dm.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = _rope(q, cos, sin), _rope(k, cos, sin)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, H, L, D)
        group = dm.hq // dm.hkv
        if group > 1:  # GQA: query head h reads key/value head h // group
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        if _SDPA is not None:
            y = _SDPA(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dm.d))  # (B, H, L, L)
            causal = torch.ones(L, L, dtype=torch.bool, device=x.device).triu(1)
            att = att.masked_fill(causal, float("-inf")).softmax(-1)
            y = att @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, L, dm.hq * dm.d))


def _rope(x, cos, sin):
    """rotate_half RoPE on (B, L, H, D) with tables (L, D/2)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c = cos[None, :, None, :]
    s = sin[None, :, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


class MLP(nn.Module):
    def __init__(self, dm, dtype):
        super().__init__()
        self.gate_proj = _linear(dm.c, dm.f, dtype)
        self.up_proj = _linear(dm.c, dm.f, dtype)
        self.down_proj = _linear(dm.f, dm.c, dtype)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, dm, dtype):
        super().__init__()
        # registration order = gymrl's layout: input_layernorm, q,k,v,o, [q_norm, k_norm], post norm, gate, up, down
        self.input_layernorm = RMSNorm(dm.c, dm.eps, dtype)
        self.self_attn = Attention(dm, dtype)
        self.post_attention_layernorm = RMSNorm(dm.c, dm.eps, dtype)
        self.mlp = MLP(dm, dtype)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Backbone(nn.Module):
    def __init__(self, dm, dtype):
        super().__init__()
        self.embed_tokens = nn.Embedding(dm.v, dm.c, dtype=dtype)
        self.layers = nn.ModuleList([Layer(dm, dtype) for _ in range(dm.l)])
        self.norm = RMSNorm(dm.c, dm.eps, dtype)


def param_kind(name):
    """gymrl's ParamKind: decides weight decay (matrix and head decay; embedding and norms do not)."""
    if name == "model.embed_tokens.weight":
        return "embedding"
    if name == "lm_head.weight":
        return "head"
    if name.endswith("norm.weight"):
        return "norm"
    return "matrix"


class Decoder(nn.Module):
    def __init__(self, config, dtype=torch.float32):
        super().__init__()
        self.config = parse_config(config)
        self.dm = dims_of(self.config)
        self.vocab = Vocab(self.config)
        self.model = Backbone(self.dm, dtype)
        if not self.dm.tied:
            self.lm_head = _linear(self.dm.c, self.dm.v, dtype)
        cos, sin = rope_tables(self.dm, dtype)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    @property
    def head_weight(self):
        return self.model.embed_tokens.weight if self.dm.tied else self.lm_head.weight

    def forward(self, tokens, seq_offsets, temperature=1.0):
        """tokens (N,) tokenizer ids, seq_offsets (S+1,) → token-aligned (logprobs (N,), entropy (N,)):
        entry t is of tokens[t] given its sequence's tokens before it; 0 at each sequence's first token
        and where the head cannot produce tokens[t] (the unknown row of a compact vocabulary)."""
        dm = self.dm
        dev = self.rope_cos.device
        tokens = tokens.to(dev).long()
        if self.vocab.id_to_row is not None and self.vocab.id_to_row.device != dev:
            self.vocab.id_to_row = self.vocab.id_to_row.to(dev)
        off = seq_offsets.to(dev).long()
        N = tokens.numel()
        lens = off[1:] - off[:-1]  # (S,)
        L = int(lens.max()) if lens.numel() else 0
        out_lp = torch.zeros(N, dtype=self.rope_cos.dtype, device=dev)
        out_h = torch.zeros(N, dtype=self.rope_cos.dtype, device=dev)
        if L == 0:
            return out_lp, out_h
        if L > dm.max_pos:
            raise ValueError(f"a sequence has {L} tokens; max_position_embeddings is {dm.max_pos}")
        j = torch.arange(L, device=dev)
        real = j[None, :] < lens[:, None]  # (S, L)
        idx = torch.where(real, off[:-1, None] + j[None, :], torch.zeros_like(real, dtype=torch.long))
        x = self.model.embed_tokens(self.vocab.input_rows(tokens)[idx])  # (S, L, C)
        cos, sin = self.rope_cos[:L], self.rope_sin[:L]
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        # rows that predict a next token of their own sequence
        pred = real & (j[None, :] + 1 < lens[:, None])
        tgt_at = idx[pred] + 1  # (M,) packed index of the predicted token
        h = self.model.norm(x[pred])  # (M, C)
        rows = self.vocab.output_rows(tokens[tgt_at])
        logits = F.linear(h, self.head_weight[: dm.v_out]) / temperature  # (M, Vout)
        logp = logits.log_softmax(-1)
        has = rows >= 0
        lp = logp.gather(-1, rows.clamp(min=0)[:, None])[:, 0]
        ent = -(logp.exp() * logp).sum(-1)
        zero = torch.zeros_like(lp)
        out_lp = out_lp.index_put((tgt_at,), torch.where(has, lp, zero))
        out_h = out_h.index_put((tgt_at,), torch.where(has, ent, zero))
        return out_lp, out_h


def rope_tables(dm, dtype):
    """(maxPos, D/2) cos and sin as Hugging Face computes them in float32 (inv_freq, then pos · inv_freq,
    each rounded to float32), with cos/sin taken in float64 of that angle like the TypeScript tables."""
    half = dm.d // 2
    j = torch.arange(half, dtype=torch.float32)
    inv_freq = 1.0 / (torch.tensor(dm.rope_theta, dtype=torch.float32) ** ((2 * j) / dm.d))
    ang = torch.arange(dm.max_pos, dtype=torch.float32)[:, None] * inv_freq[None, :]
    ang = ang.double()
    return ang.cos().to(dtype), ang.sin().to(dtype)
