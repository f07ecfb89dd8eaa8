"""One rank of the PyTorch trainer: the model (DDP-wrapped when there are several ranks, or sharded
by FSDP2 with --strategy fsdp), the optimizer, and the commands every rank executes in the same order (rank 0 receives them over HTTP
and broadcasts them; the other ranks loop on the broadcast).

Data parallelism over the global batch: every rank gets the whole batch, computes the GLOBAL valid
token and sequence counts from it, and trains on its own contiguous share of the sequences. Each
rank's loss is normalised by the global counts, so the ranks' losses add up to the batch's loss;
DDP (and FSDP's reduce-scatter) averages gradients over the W ranks, so each rank backpropagates
W · loss and the synced gradient is the sum. N ranks therefore take the same step as one.
"""
import logging
import math
import time

import torch

from . import checkpoint as ckpt
from . import sharding
from .batching import micro_batches, rank_ranges
from .loss import clipped_pg_loss
from .model import Decoder
from .optim import AdamW

log = logging.getLogger("gymrl_torch")


class Batch:
    """A packed batch as tensors: tokens (N,) int, seq_offsets (S+1,) int, and the loss's per-token
    float64 inputs (token_mask, generation_logprobs, advantages, prev/ref logprobs) and sample_mask (S,)."""

    def __init__(self, tokens, seq_offsets, **fields):
        self.tokens = tokens
        self.seq_offsets = seq_offsets
        self.offsets = [int(x) for x in seq_offsets.tolist()]
        self.fields = fields

    @property
    def n(self):
        return self.offsets[-1]

    @property
    def s(self):
        return len(self.offsets) - 1


class Worker:
    def __init__(self, d, args, init):
        """d: Dist. init: on rank 0, what checkpoint.read_* returned for the initial directory
        ({"config", "tensors", "optimizer"}); None elsewhere. Everything else comes by broadcast."""
        self.d = d
        self.args = args
        self.dtype = torch.float64 if args.dtype == "float64" else torch.float32
        torch.manual_seed(0)
        config = d.broadcast_object(init["config"] if d.rank == 0 else None)
        self.model = Decoder(config, dtype=self.dtype).to(d.device)
        self.num_params = sum(p.numel() for p in self.model.parameters())
        self.sharded = args.strategy == "fsdp"
        if self.sharded:  # shard before the weights arrive: each rank then keeps only its piece
            sharding.shard(self.model, d.device)
        self.named = list(self.model.named_parameters())
        self.shapes = {n: list(p.shape) for n, p in self.named}  # global shapes, sharded or not
        self.optimizer = AdamW(self.named, args.adamw, reduce=d.all_reduce_sum if self.sharded else None)
        self._set_state(init["tensors"] if d.rank == 0 else None, init.get("optimizer") if d.rank == 0 else None)
        self.ddp = None
        if d.world > 1 and not self.sharded:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.ddp = DDP(self.model, device_ids=[d.device.index] if d.cuda else None, broadcast_buffers=False)

    # ----------------------------------------------------------------------------------------------
    # state

    def _set_state(self, tensors, optimizer):
        """Rank 0's weights (and optimizer moments and step, when it has them) into every rank, one
        whole tensor at a time (a sharded rank keeps its shard of it). Rank 0 checks the shapes first."""
        d = self.d
        if d.rank == 0:
            ckpt.check_tensors(self.shapes, tensors, optimizer[2] if optimizer is not None else None)
        has_opt = d.broadcast_object(optimizer is not None if d.rank == 0 else None)
        if has_opt:
            self.optimizer.t = int(d.broadcast_object(optimizer[0] if d.rank == 0 else None))
        moments = optimizer[2] if d.rank == 0 and optimizer is not None else {}

        def send(dst, key, source, shape):
            whole = source[key].to(d.device, dst.dtype) if d.rank == 0 else torch.empty(shape, dtype=dst.dtype, device=d.device)
            d.broadcast_tensor(whole)
            sharding.assign(dst, whole)

        with torch.no_grad():
            for name, p in self.named:
                shape = self.shapes[name]
                send(p, name, tensors, shape)
                if has_opt:  # without saved moments the optimizer keeps its own (as EmbeddedTrainer.load does)
                    send(self.optimizer.m[name], "exp_avg." + name, moments, shape)
                    send(self.optimizer.v[name], "exp_avg_sq." + name, moments, shape)

    @property
    def description(self):
        dev = "cuda" if self.d.cuda else "cpu"
        if self.sharded:
            return f"torch FSDP ×{self.d.world} ({self.d.backend}, {dev}, torch {torch.__version__})"
        if self.d.world == 1:
            return f"torch ×1 ({dev}, torch {torch.__version__})"
        return f"torch DDP ×{self.d.world} ({self.d.backend}, {dev}, torch {torch.__version__})"

    # ----------------------------------------------------------------------------------------------
    # commands (every rank, same order)

    def run(self, op, a):
        return getattr(self, "cmd_" + op)(**a)

    @torch.no_grad()
    def cmd_forward(self, batch):
        lp, ent, _ = self._passes(batch, train=False)
        return {"logprobs": lp, "entropy": ent}

    def cmd_forward_backward(self, batch, loss_config):
        t0 = time.perf_counter()
        lp, ent, loss = self._passes(batch, train=True, loss_config=loss_config)
        return {"loss": loss, "logprobs": lp, "entropy": ent, "forward_backward_s": time.perf_counter() - t0}

    def cmd_optim_step(self, lr):
        t0 = time.perf_counter()
        norm = self.optimizer.step(lr)
        self.zero_grad()
        return {"grad_norm": norm, "step": self.optimizer.t, "lr": lr, "optim_step_s": time.perf_counter() - t0}

    def cmd_train_step(self, batch, loss_config, lr):
        self.zero_grad()
        out = self.cmd_forward_backward(batch, loss_config)
        out.update(self.cmd_optim_step(lr))
        return out

    def cmd_zero_grad(self):
        self.zero_grad()
        return {}

    def cmd_grads(self):
        """Debug: the accumulated gradient, flattened in gymrl's layout order (float32)."""
        flat = [sharding.full(p.grad if p.grad is not None else torch.zeros_like(p)).detach().reshape(-1).float().cpu() for _, p in self.named]
        return {"grads": torch.cat(flat)}

    def _whole(self):
        """[(name, whole weight)] on every rank (sharded weights are gathered: all ranks call this)."""
        return [(n, sharding.full(p.detach())) for n, p in self.named]

    def cmd_save(self, dir, state):
        weights = self._whole()
        t, cfg, moments = self.optimizer.state()
        moments = {n: (sharding.full(m), sharding.full(v)) for n, (m, v) in moments.items()}
        if self.d.rank == 0:
            ckpt.save(dir, self.model.config, weights, (t, cfg, moments), state)
        self.d.barrier()
        return {"dir": dir}

    def cmd_export(self, dir):
        weights = self._whole()
        if self.d.rank == 0:
            ckpt.save(dir, self.model.config, weights)
        self.d.barrier()
        return {"dir": dir}

    def cmd_load(self, loaded):
        """loaded: on rank 0, {"tensors", "optimizer", "state"} read (and checked) before the broadcast."""
        self._set_state(loaded["tensors"] if self.d.rank == 0 else None, loaded["optimizer"] if self.d.rank == 0 else None)
        self.zero_grad()
        return {"state": loaded["state"] if self.d.rank == 0 else None}

    def zero_grad(self):
        for _, p in self.named:
            p.grad = None

    # ----------------------------------------------------------------------------------------------
    # the passes

    def _passes(self, batch, train, loss_config=None):
        """Scores (and with train, backpropagates) this rank's share of the batch in micro-batches;
        returns the WHOLE batch's token-aligned logprobs and entropy (float64, summed over ranks) and
        the loss (summed over ranks)."""
        d, off, f = self.d, batch.offsets, batch.fields
        N = batch.n
        lp_all = torch.zeros(N, dtype=torch.float64, device=d.device)
        ent_all = torch.zeros(N, dtype=torch.float64, device=d.device)
        ranges = rank_ranges(off, d.world)
        plans = [micro_batches(off, s0, s1, self.args.micro_batch_tokens) for s0, s1 in ranges]
        mine = plans[d.rank]
        # Under DDP every rank must run as many backward passes as the busiest one (the last one
        # syncs): a rank with fewer pads with zero-weighted passes over a stand-in sequence.
        # FSDP gathers each layer's weights in every forward: there, scoring pads the same way.
        n_passes = max(len(p) for p in plans) if train or self.sharded else len(mine)
        tokens = batch.tokens.to(d.device)
        if train:
            S = batch.s
            tm = f["token_mask"]
            sm = f["sample_mask"]
            seg = torch.repeat_interleave(torch.arange(S), batch.seq_offsets[1:] - batch.seq_offsets[:-1])
            mask = tm * sm[seg]
            gtoks = float(mask.sum())
            gseqs = float(sm.sum())
        loss_sum = torch.zeros((), dtype=torch.float64, device=d.device)
        T = self.args.temperature
        for i in range(n_passes):
            if i < len(mine):
                s0, s1 = mine[i]
                a, b = off[s0], off[s1]
                mb_off = batch.seq_offsets[s0 : s1 + 1] - a
                weight = 1.0
            else:  # stand-in: the batch's longest sequence (so every weight is in the graph), loss × 0
                s0 = max(range(batch.s), key=lambda s: off[s + 1] - off[s])
                s1, a, b = s0 + 1, off[s0], off[s0 + 1]
                mb_off = batch.seq_offsets[s0 : s0 + 2] - a
                weight = 0.0
            if not train:
                lp, ent = self.model(tokens[a:b], mb_off, T)
                if weight:
                    lp_all[a:b] = lp.double()
                    ent_all[a:b] = ent.double()
                continue
            module = self.ddp or self.model
            sync = self.ddp is None or i == n_passes - 1
            ctx = self.ddp.no_sync() if not sync else _Null()
            with ctx:
                lp, ent = module(tokens[a:b], mb_off, T)
                curr = lp.double()
                loss, _ = clipped_pg_loss(
                    curr,
                    mb_off,
                    f["token_mask"][a:b],
                    f["generation_logprobs"][a:b],
                    f["advantages"][a:b],
                    loss_config,
                    # without prev logprobs this step's own forward is the old policy (as the embedded trainer)
                    prev=_sl(f.get("prev_logprobs"), a, b) if f.get("prev_logprobs") is not None else curr.detach(),
                    ref=_sl(f.get("reference_logprobs"), a, b),
                    sample_mask=f["sample_mask"][s0:s1],
                    global_valid_toks=gtoks,
                    global_valid_seqs=gseqs,
                )
                (loss * (weight * d.world)).backward()
            if weight:
                loss_sum += loss.detach()
                lp_all[a:b] = curr.detach()
                ent_all[a:b] = ent.detach().double()
        d.all_reduce_sum(lp_all)
        d.all_reduce_sum(ent_all)
        d.all_reduce_sum(loss_sum)
        if train and not math.isfinite(float(loss_sum)):
            log.warning("non-finite loss %s", float(loss_sum))
        return lp_all.cpu(), ent_all.cpu(), float(loss_sum)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _sl(x, a, b):
    return None if x is None else x[a:b]
