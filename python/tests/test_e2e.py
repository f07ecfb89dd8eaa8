"""End to end without gymrl: ranks started as gymrl's launcher starts them (the torchrun
environment), driven over the control API. Opt-in (GYMRL_TORCH_E2E=1), because the TypeScript
tests (src/grpo/torch-trainer/torch-trainer.test.ts) cover the same ground under `npm test`; this
one checks a machine without Node, e.g. a GPU host with a current torch:
  * 2 ranks (gloo, CPU) take the same step as 1 rank;
  * with CUDA, one rank on the GPU scores and steps as one rank on the CPU;
  * with FSDP2 (torch >= 2.4), 2 sharded ranks take the step of 1 DDP rank.
Where the torch has no FSDP2 (Debian's 1.13), --strategy fsdp is refused with the reason (always run).
"""
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

import torch

from gymrl_torch import checkpoint as ckpt
from gymrl_torch import sharding

from .helpers import random_model, tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def b64(fmt, xs):
    return base64.b64encode(struct.pack(f"<{len(xs)}{fmt}", *xs)).decode()


def unb64(s, fmt="d"):
    raw = base64.b64decode(s)
    return list(struct.unpack(f"<{len(raw) // struct.calcsize(fmt)}{fmt}", raw))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ranks:
    def __init__(self, ck, world, extra_env=None, args=(), torchrun=False):
        port = free_port()
        self.procs = []
        if torchrun:
            # one torchrun agent starts the ranks (the launch a GPU cluster uses); rank 0's ready line
            # comes through the agent's stdout
            env = {**os.environ, "PYTHONPATH": ROOT, **(extra_env or {})}
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(world), "--master_addr", "127.0.0.1", "--master_port", str(port),
                   "-m", "gymrl_torch", "--checkpoint", ck, "--threads", "1", "--micro-batch-tokens", "8", *args]
            self.procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        for r in range(0 if torchrun else world):
            env = {**os.environ, "PYTHONPATH": ROOT, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(world), "RANK": str(r), "LOCAL_RANK": str(r), **(extra_env or {})}
            self.procs.append(subprocess.Popen([sys.executable, "-m", "gymrl_torch", "--checkpoint", ck, "--threads", "1", "--micro-batch-tokens", "8", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        line = self.procs[0].stdout.readline()
        while torchrun and line and not line.startswith("GYMRL_TORCH_READY "):
            line = self.procs[0].stdout.readline()
        if not line.startswith("GYMRL_TORCH_READY "):
            self.close()
            raise RuntimeError(f"no ready line: {line!r}")
        self.info = json.loads(line.split(" ", 1)[1])
        self.url = f"http://127.0.0.1:{self.info['port']}"

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def close(self):
        try:
            self.post("/shutdown", {})
        except Exception:
            pass
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdout:
                p.stdout.close()


def batch():
    seqs = [[3, 5, 8, 13, 21, 34], [55, 89, 144, 3, 5], [8, 8, 13], [21, 34, 55, 89, 144, 3, 5]]
    toks = [t for s in seqs for t in s]
    off = [0]
    for s in seqs:
        off.append(off[-1] + len(s))
    mask = [0.0 if t in off else 1.0 for t in range(len(toks))]
    adv = [m * (1 if i % 3 else -1) for i, m in enumerate(mask)]
    return {
        "tokens": b64("i", toks),
        "seq_offsets": b64("i", off),
        "token_mask": b64("d", mask),
        "generation_logprobs": b64("d", [-2.0 * m for m in mask]),
        "advantages": b64("d", adv),
        "loss_config": {"reference_policy_kl_penalty": 0.0, "use_importance_sampling_correction": True},
        "lr": 1e-2,
    }


@unittest.skipUnless(os.environ.get("GYMRL_TORCH_E2E") == "1", "set GYMRL_TORCH_E2E=1 (the TypeScript tests cover this under npm test)")
class EndToEndTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        m = random_model(tiny_config(), seed=2, dtype=torch.float32)
        cls.ck = ckpt.save(os.path.join(cls.tmp.name, "init"), m.config, list(m.named_parameters()))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def step_and_export(self, world, env=None, args=(), torchrun=False):
        ranks = Ranks(self.ck, world, env, args, torchrun)
        try:
            status, out = ranks.post("/forward", {k: batch()[k] for k in ("tokens", "seq_offsets")})
            self.assertEqual(status, 200)
            status, bad = ranks.post("/train_step", {**batch(), "lr": -1})
            self.assertEqual((status, bad["error"]["field"]), (400, "lr"))
            status, step = ranks.post("/train_step", batch())
            self.assertEqual(status, 200, step)
            path = os.path.join(self.tmp.name, f"out-{world}-{len(env or {})}-{'-'.join(args)}-{torchrun}")
            self.assertEqual(ranks.post("/export", {"dir": path})[0], 200)
            return unb64(out["logprobs"]), step, ckpt.read_model_tensors(path), ranks.info
        finally:
            ranks.close()

    def test_two_ranks_step_as_one(self):
        cpu = {"CUDA_VISIBLE_DEVICES": ""}
        lp1, s1, w1, _ = self.step_and_export(1, cpu)
        lp2, s2, w2, info = self.step_and_export(2, cpu)
        self.assertEqual(info["world_size"], 2)
        self.assertLess(max(abs(a - b) for a, b in zip(lp1, lp2)), 1e-6)
        self.assertAlmostEqual(s1["loss"], s2["loss"], delta=1e-6 * abs(s1["loss"]))
        self.assertLess(max(float((w1[n] - w2[n]).abs().max()) for n in w1), 1e-5)

    @unittest.skipUnless(os.environ.get("GYMRL_TORCHRUN") == "1", "set GYMRL_TORCHRUN=1 where torchrun works (Debian's 1.13 fails before starting a rank)")
    def test_torchrun_two_ranks_step_as_one(self):
        cpu = {"CUDA_VISIBLE_DEVICES": ""}
        lp1, s1, w1, _ = self.step_and_export(1, cpu)
        lp2, s2, w2, info = self.step_and_export(2, cpu, (), True)
        self.assertEqual(info["world_size"], 2)
        self.assertLess(max(abs(a - b) for a, b in zip(lp1, lp2)), 1e-6)
        self.assertLess(max(float((w1[n] - w2[n]).abs().max()) for n in w1), 1e-5)

    @unittest.skipUnless(os.environ.get("GYMRL_TORCHRUN") == "1" and torch.cuda.is_available(), "torchrun + CUDA")
    def test_torchrun_cuda_rank_matches_cpu_rank(self):
        _, _, w_c, _ = self.step_and_export(1, {"CUDA_VISIBLE_DEVICES": ""})
        _, _, w_g, info = self.step_and_export(1, None, (), True)
        self.assertIn("cuda", info["description"])
        self.assertLess(max(float((w_c[n] - w_g[n]).abs().max()) for n in w_c), 1e-5)

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA")
    def test_cuda_rank_matches_cpu_rank(self):
        lp_c, s_c, w_c, _ = self.step_and_export(1, {"CUDA_VISIBLE_DEVICES": ""})
        lp_g, s_g, w_g, info = self.step_and_export(1)
        self.assertTrue(info["device"].startswith("cuda"), info)
        self.assertLess(max(abs(a - b) for a, b in zip(lp_c, lp_g)), 1e-4)
        self.assertLess(max(float((w_c[n] - w_g[n]).abs().max()) for n in w_c), 1e-5)

    @unittest.skipUnless(sharding.fully_shard_fn() is not None, "this torch has no FSDP2")
    def test_fsdp_two_ranks_step_as_one_ddp_rank(self):
        cpu = {"CUDA_VISIBLE_DEVICES": ""}
        _, s1, w1, _ = self.step_and_export(1, cpu)
        _, s2, w2, info = self.step_and_export(2, cpu, ("--strategy", "fsdp"))
        self.assertIn("FSDP ×2", info["description"])
        self.assertAlmostEqual(s1["grad_norm"], s2["grad_norm"], delta=1e-5 * s1["grad_norm"])
        self.assertLess(max(float((w1[n] - w2[n]).abs().max()) for n in w1), 1e-5)

    @unittest.skipUnless(torch.cuda.is_available() and sharding.fully_shard_fn() is not None, "no CUDA or no FSDP2")
    def test_fsdp_on_cuda_matches_cpu(self):
        _, _, w_c, _ = self.step_and_export(1, {"CUDA_VISIBLE_DEVICES": ""})
        _, _, w_g, info = self.step_and_export(1, None, ("--strategy", "fsdp"))
        self.assertIn("FSDP ×1 (nccl, cuda", info["description"])
        self.assertLess(max(float((w_c[n] - w_g[n]).abs().max()) for n in w_c), 1e-5)


@unittest.skipUnless(sharding.fully_shard_fn() is None, "this torch has FSDP2")
class FsdpRefusalTest(unittest.TestCase):
    def test_fsdp_is_refused_with_the_reason(self):
        r = subprocess.run([sys.executable, "-m", "gymrl_torch", "--checkpoint", "/nonexistent", "--strategy", "fsdp"], env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True, text=True, timeout=120)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("strategy fsdp needs FSDP2", r.stderr)


if __name__ == "__main__":
    unittest.main()
