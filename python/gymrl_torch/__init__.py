"""gymrl's PyTorch worker: the same decoder, checkpoints, loss and AdamW as the TypeScript trainer,
run data-parallel under torch.distributed, with rank 0 serving a small HTTP control API.

Depends on torch (>= 1.13) and the standard library only. Entry point: ``python -m gymrl_torch``.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
