"""safetensors by hand: round trips, the header layout the format specifies, half-precision decoding
against known bit patterns, and rejection of inconsistent headers; checkpoints in gymrl's layout."""
import json
import os
import struct
import tempfile
import unittest

import torch

from gymrl_torch import checkpoint as ckpt
from gymrl_torch import safetensors as st

from .helpers import random_model, tiny_config


class SafetensorsTest(unittest.TestCase):
    def test_round_trip_and_header_layout(self):
        a = torch.arange(6, dtype=torch.float32).reshape(2, 3) / 7
        b = torch.tensor([1e-300, -2.5], dtype=torch.float64)
        raw = st.serialize([("a", a), ("b", b)], {"format": "pt"})
        (n,) = struct.unpack("<Q", raw[:8])
        self.assertEqual((8 + n) % 8, 0)  # the data section starts 8-byte aligned
        header = json.loads(raw[8 : 8 + n])
        self.assertEqual(header["a"], {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]})
        self.assertEqual(header["b"]["data_offsets"], [24, 40])
        self.assertEqual(header["__metadata__"], {"format": "pt"})
        meta, t = st.parse(raw)
        self.assertEqual(meta, {"format": "pt"})
        self.assertTrue(torch.equal(t["a"], a) and torch.equal(t["b"], b))

    def test_half_precision_bit_patterns(self):
        # bf16 0x3F80 = 1.0, 0xC020 = -2.5; f16 0x3C00 = 1.0, 0xC100 = -2.5, 0x0001 = 2^-24
        def file(dtype, words):
            data = struct.pack(f"<{len(words)}H", *words)
            h = json.dumps({"x": {"dtype": dtype, "shape": [len(words)], "data_offsets": [0, len(data)]}}).encode()
            return struct.pack("<Q", len(h)) + h + data

        _, t = st.parse(file("BF16", [0x3F80, 0xC020]))
        self.assertEqual(st.to_float(t["x"]).tolist(), [1.0, -2.5])
        _, t = st.parse(file("F16", [0x3C00, 0xC100, 0x0001]))
        self.assertEqual(st.to_float(t["x"], torch.float64).tolist(), [1.0, -2.5, 2.0**-24])

    def test_inconsistent_headers_are_rejected(self):
        h = json.dumps({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}).encode()
        with self.assertRaisesRegex(st.SafetensorsError, "bad data_offsets"):
            st.parse(struct.pack("<Q", len(h)) + h + b"\0" * 8)
        with self.assertRaisesRegex(st.SafetensorsError, "runs past"):
            st.parse(struct.pack("<Q", 1000) + b"{}")


class CheckpointTest(unittest.TestCase):
    def test_save_is_atomic_and_reads_back(self):
        m = random_model(tiny_config(), dtype=torch.float32)
        named = list(m.named_parameters())
        moments = {n: (p.detach() * 2, p.detach().abs()) for n, p in named}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "ck")
            for _ in range(2):  # the second save replaces the first
                ckpt.save(path, m.config, named, (3, {"beta1": 0.9}, moments), {"step": 3})
            self.assertEqual(sorted(os.listdir(tmp)), ["ck"])
            self.assertEqual(sorted(os.listdir(path)), ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"])
            tensors = ckpt.read_model_tensors(path)
            self.assertEqual(list(tensors), [n for n, _ in named])
            for n, p in named:
                self.assertTrue(torch.equal(tensors[n], p.detach()))
            t, cfg, opt = ckpt.read_optimizer(path)
            self.assertEqual((t, cfg), (3, {"beta1": 0.9}))
            self.assertTrue(torch.equal(opt["exp_avg_sq.lm_head.weight"], moments["lm_head.weight"][1]))
            self.assertEqual(ckpt.read_state(path), {"step": 3})
            self.assertEqual(ckpt.read_config(path)["gymrl_vocab_map"], m.config["gymrl_vocab_map"])


if __name__ == "__main__":
    unittest.main()
