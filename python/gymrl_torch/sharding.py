"""FSDP (FSDP2's ``fully_shard``, torch >= 2.4) where the installed torch has it, and the helpers
that let the rest of the worker treat sharded and whole parameters alike: ``full`` gathers a
parameter (collective: every rank calls it), ``assign`` writes a whole tensor into a parameter or
its shard, ``local`` is this rank's piece. Without FSDP they are the identity / a copy.
torch 1.13 (Debian) has only FSDP v1, whose flat parameters the name-keyed AdamW and checkpoints
here do not handle: there, ``--strategy fsdp`` stops with ``unavailable_reason()``.
"""
import torch


def fully_shard_fn():
    # Any exception means "not here": torch 1.13's fsdp package fails to import on Python 3.11
    # with a dataclass ValueError, not an ImportError.
    try:
        from torch.distributed.fsdp import fully_shard  # torch >= 2.6

        return fully_shard
    except Exception:
        pass
    try:
        from torch.distributed._composable.fsdp import fully_shard  # torch 2.4, 2.5

        return fully_shard
    except Exception:
        return None


def _dtensor_cls():
    for mod in ("torch.distributed.tensor", "torch.distributed._tensor"):
        try:
            return __import__(mod, fromlist=["DTensor"]).DTensor
        except Exception:
            continue
    return None


_DT = _dtensor_cls()


def is_sharded(t):
    return _DT is not None and isinstance(t, _DT)


def unavailable_reason():
    return (
        f"strategy fsdp needs FSDP2 (fully_shard, torch >= 2.4); the installed torch {torch.__version__} "
        "has none: use strategy ddp"
    )


def shard(model, device):
    """FSDP2 over every decoder layer, then the root (embedding, final norm, head)."""
    fs = fully_shard_fn()
    if fs is None:
        raise RuntimeError(unavailable_reason())
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh(device.type, (torch.distributed.get_world_size(),))
    for layer in model.model.layers:
        fs(layer, mesh=mesh)
    fs(model, mesh=mesh)


def full(t):
    """The whole tensor (all-gathers a shard: every rank must call it)."""
    return t.full_tensor() if is_sharded(t) else t


def local(t):
    return t.to_local() if is_sharded(t) else t


@torch.no_grad()
def assign(dst, whole):
    """dst ← whole (same global shape); for a sharded dst, this rank's shard of it."""
    if is_sharded(dst):
        from torch.distributed.tensor import distribute_tensor

        whole = whole.to(dst.device, dst.dtype)
        try:  # every rank holds the same whole tensor: no need to scatter it from rank 0
            piece = distribute_tensor(whole, dst.device_mesh, dst.placements, src_data_rank=None)
        except TypeError:  # torch before src_data_rank
            piece = distribute_tensor(whole, dst.device_mesh, dst.placements)
        dst.to_local().copy_(piece.to_local())
    else:
        dst.copy_(whole.to(dst.device, dst.dtype))
