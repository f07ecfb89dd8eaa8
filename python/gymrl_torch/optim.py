"""AdamW as gymrl's (src/model/optimizer.ts): global gradient-norm clipping, bias-corrected moments,
decoupled weight decay on projection matrices and an untied head only (not embeddings or norms):

    g = grad · scale        scale = clip / ‖grad‖ when ‖grad‖ > clip, else 1
    m = β1 m + (1-β1) g     v = β2 v + (1-β2) g²
    p -= lr · (m / bc1 / (sqrt(v / bc2) + eps) + wd · p)        bc_i = 1 - β_i^t

Moments are kept per parameter name, so they save as optimizer.safetensors "exp_avg.<name>".
"""
import math

import torch

from .model import param_kind
from .sharding import assign, local

DEFAULTS = {"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weightDecay": 0.1, "gradClip": 1.0}


class AdamW:
    def __init__(self, named_params, cfg=None, reduce=None):
        """reduce: sums a 0-dim tensor over ranks, for gradients sharded across them (FSDP); None when
        every rank holds whole gradients."""
        self.cfg = {**DEFAULTS, **(cfg or {})}
        self.reduce = reduce
        self.params = list(named_params)  # [(name, Parameter)] in layout order
        self.m = {n: torch.zeros_like(p, memory_format=torch.contiguous_format) for n, p in self.params}
        self.v = {n: torch.zeros_like(p, memory_format=torch.contiguous_format) for n, p in self.params}
        self.t = 0

    def grad_norm(self):
        """Global L2 norm of the gradients, accumulated in float64 like the TypeScript sumSquares."""
        total = torch.zeros((), dtype=torch.float64, device=local(self.params[0][1]).device)
        for _, p in self.params:
            if p.grad is not None:
                total += local(p.grad.detach()).double().pow(2).sum()
        if self.reduce is not None:
            self.reduce(total)
        return math.sqrt(float(total))

    @torch.no_grad()
    def step(self, lr):
        c = self.cfg
        b1, b2, eps, wd, clip = c["beta1"], c["beta2"], c["eps"], c["weightDecay"], c["gradClip"]
        norm = self.grad_norm()
        scale = clip / norm if clip and clip > 0 and math.isfinite(clip) and norm > clip else 1.0
        self.t += 1
        bc1 = 1 - b1**self.t
        bc2 = 1 - b2**self.t
        for name, p in self.params:
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            g = g * scale
            m, v = self.m[name], self.v[name]
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            decay = wd if param_kind(name) in ("matrix", "head") else 0.0
            update = (m / bc1) / ((v / bc2).sqrt() + eps)
            if decay:
                update = update + decay * p
            p.sub_(lr * update)
        return norm

    def state(self):
        return self.t, dict(self.cfg), {n: (self.m[n], self.v[n]) for n, _ in self.params}

    @torch.no_grad()
    def load(self, t, moments):
        """moments: {"exp_avg.<name>": tensor, "exp_avg_sq.<name>": tensor} for every parameter."""
        for name, p in self.params:
            for prefix, buf in (("exp_avg.", self.m[name]), ("exp_avg_sq.", self.v[name])):
                x = moments.get(prefix + name)
                if x is None:
                    raise ValueError(f"optimizer state lacks {prefix + name}")
                if list(x.shape) != list(p.shape):
                    raise ValueError(f"optimizer tensor {prefix + name} has shape {list(x.shape)}, expected {list(p.shape)}")
                assign(buf, x)
        self.t = int(t)
