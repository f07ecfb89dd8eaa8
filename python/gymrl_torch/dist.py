"""torch.distributed set-up from the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR, MASTER_PORT), whichever launcher set it: torchrun, or gymrl spawning the ranks itself.
Tensors go over the default group (NCCL with CUDA, else gloo); commands and small objects over a
gloo group, so the control channel works on CPU whatever the data backend is."""
import datetime
import os

import torch
import torch.distributed as dist


class Dist:
    def __init__(self, timeout_s=1800, need_group=False):
        """need_group: start a process group even for one rank (FSDP shards over a device mesh)."""
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", str(self.rank)))
        self.cuda = torch.cuda.is_available()
        self.device = torch.device(f"cuda:{self.local_rank}" if self.cuda else "cpu")
        if self.cuda:
            torch.cuda.set_device(self.device)
        self.backend = "nccl" if self.cuda else "gloo"
        self.ctrl = None
        if self.world > 1 or need_group:
            if self.world == 1:  # a group of one: any free local port will do
                os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
                os.environ.setdefault("MASTER_PORT", str(_free_port()))
                os.environ.setdefault("RANK", "0")
                os.environ.setdefault("WORLD_SIZE", "1")
            timeout = datetime.timedelta(seconds=timeout_s)
            dist.init_process_group(self.backend, init_method="env://", timeout=timeout)
            self.ctrl = dist.new_group(backend="gloo", timeout=timeout) if self.backend != "gloo" else dist.group.WORLD

    @property
    def grouped(self):
        return self.ctrl is not None

    def broadcast_object(self, obj=None):
        """Rank 0's obj on every rank."""
        if not self.grouped:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self.ctrl)
        return box[0]

    def broadcast_tensor(self, t):
        """In place: rank 0's values into t on every rank."""
        if self.grouped:
            dist.broadcast(t, src=0)

    def all_reduce_sum(self, t):
        if self.grouped:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def barrier(self):
        if self.grouped:
            dist.barrier(group=self.ctrl)

    def close(self):
        if self.grouped and dist.is_initialized():
            dist.destroy_process_group()


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
