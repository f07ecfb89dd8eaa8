"""Entry point of one rank: ``python -m gymrl_torch --checkpoint DIR [options]``.

Started by gymrl (src/grpo/torch-trainer/launcher.ts) as N processes with the torchrun environment
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), or by ``torchrun --nproc_per_node N -m
gymrl_torch …``; without that environment it runs alone (world size 1). Rank 0 reads the checkpoint,
serves the control API and prints one ready line on stdout:

    GYMRL_TORCH_READY {"port": …, "world_size": …, "num_params": …, "description": …}

Every other line any rank writes goes to stderr, prefixed with its rank.
"""
import argparse
import json
import logging
import os
import sys
import threading
import time

import torch

from . import checkpoint as ckpt
from . import sharding
from .dist import Dist
from .worker import Worker

READY = "GYMRL_TORCH_READY"


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m gymrl_torch", description="gymrl's PyTorch trainer worker (one rank)")
    p.add_argument("--checkpoint", required=True, help="gymrl / Hugging Face checkpoint directory to start from")
    p.add_argument("--restore-optimizer", action="store_true", help="also load optimizer.safetensors from it")
    p.add_argument("--adamw", type=json.loads, default={}, help='AdamW settings as gymrl names them, JSON: {"beta1", "beta2", "eps", "weightDecay", "gradClip"}')
    p.add_argument("--micro-batch-tokens", type=int, default=4096)
    p.add_argument("--temperature", type=float, default=1.0, help="score softmax(logits / T), the sampler's distribution")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--strategy", choices=["ddp", "fsdp"], default="ddp")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads per rank (0: torch's default)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="control API port of rank 0 (0: a free one)")
    p.add_argument("--dist-timeout-s", type=float, default=1800, help="collective timeout")
    p.add_argument("--log-level", default="INFO")
    a = p.parse_args(argv)
    if not a.temperature > 0:
        p.error("--temperature must be > 0")
    if a.micro_batch_tokens < 1:
        p.error("--micro-batch-tokens must be >= 1")
    return a


def watch_parent():
    """Exit when the process that started this rank goes away, so ranks never outlive gymrl."""
    parent = os.getppid()

    def loop():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                logging.getLogger("gymrl_torch").error("parent process %d is gone; exiting", parent)
                os._exit(3)

    threading.Thread(target=loop, daemon=True).start()


def main(argv=None):
    args = parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(), format=f"[gymrl_torch rank {rank}] %(levelname)s %(message)s")
    log = logging.getLogger("gymrl_torch")
    watch_parent()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.strategy == "fsdp" and sharding.fully_shard_fn() is None:
        raise SystemExit(sharding.unavailable_reason())
    d = Dist(timeout_s=args.dist_timeout_s, need_group=args.strategy == "fsdp")
    init = {}
    if d.rank == 0:
        path = os.path.abspath(args.checkpoint)
        init = {"config": ckpt.read_config(path), "tensors": ckpt.read_model_tensors(path)}
        if args.restore_optimizer:
            init["optimizer"] = ckpt.read_optimizer(path)
    worker = Worker(d, args, init)
    log.info("%s: %d parameters, %s, %d threads", worker.description, worker.num_params, d.device, torch.get_num_threads())
    if d.rank == 0:
        from .server import serve

        def ready(port, health):
            info = {"port": port, "pid": os.getpid(), "python": sys.executable, **health}
            print(f"{READY} {json.dumps(info)}", flush=True)

        serve(worker, d, args, ready)
    else:
        while True:
            cmd = d.broadcast_object(None)
            if cmd["op"] == "shutdown":
                break
            worker.run(cmd["op"], cmd["args"])
    log.info("shutting down")
    d.close()


if __name__ == "__main__":
    main()
