"""Request checks on rank 0 (before anything is broadcast): every bad field is named."""
import base64
import struct
import unittest

import torch

from gymrl_torch.server import BadRequest, decode_array, encode_array, parse_batch, parse_loss_config, parse_lr

from .helpers import random_model, tiny_config


def b64(fmt, xs):
    return base64.b64encode(struct.pack(f"<{len(xs)}{fmt}", *xs)).decode()


class ServerChecksTest(unittest.TestCase):
    def setUp(self):
        self.m = random_model(tiny_config(max_position_embeddings=8))
        self.body = {
            "tokens": b64("i", [3, 5, 8, 13]),
            "seq_offsets": b64("i", [0, 2, 4]),
            "token_mask": b64("d", [0, 1, 0, 1]),
            "generation_logprobs": b64("d", [0, -1, 0, -2]),
            "advantages": b64("d", [0, 1, 0, -1]),
        }

    def field(self, fn, *a):
        with self.assertRaises(BadRequest) as cm:
            fn(*a)
        return cm.exception.field

    def test_a_good_batch_parses(self):
        b = parse_batch(self.body, self.m, train=True)
        self.assertEqual((b.n, b.s), (4, 2))
        self.assertEqual(b.fields["sample_mask"].tolist(), [1.0, 1.0])
        cfg = parse_loss_config({"loss_config": {"reference_policy_kl_penalty": 0}}, b)
        self.assertEqual(cfg["ratio_clip_min"], 0.2)

    def test_bad_fields_are_named(self):
        bad = lambda **kw: {**self.body, **kw}  # noqa: E731
        self.assertEqual(self.field(parse_batch, bad(tokens="!!"), self.m, False), "tokens")
        self.assertEqual(self.field(parse_batch, bad(tokens=b64("d", [1.0])), self.m, False), "seq_offsets")
        self.assertEqual(self.field(parse_batch, bad(seq_offsets=b64("i", [0, 3, 2, 4])), self.m, False), "seq_offsets")
        self.assertEqual(self.field(parse_batch, bad(seq_offsets=b64("i", [1, 4])), self.m, False), "seq_offsets")
        long = bad(tokens=b64("i", [3] * 9), seq_offsets=b64("i", [0, 9]))
        self.assertEqual(self.field(parse_batch, long, self.m, False), "seq_offsets")  # over max_position_embeddings
        self.assertEqual(self.field(parse_batch, bad(advantages=b64("d", [0.0])), self.m, True), "advantages")
        self.assertEqual(self.field(parse_batch, bad(sample_mask=b64("d", [1.0])), self.m, True), "sample_mask")
        no_adv = dict(self.body)
        del no_adv["advantages"]
        self.assertEqual(self.field(parse_batch, no_adv, self.m, True), "advantages")
        b = parse_batch(self.body, self.m, train=True)
        self.assertEqual(self.field(parse_loss_config, {"loss_config": {"use_cispo": True, "disable_ppo_ratio": True}}, b), "loss_config")
        self.assertEqual(self.field(parse_loss_config, {"loss_config": {}}, b), "reference_logprobs")  # default KL 0.01 needs them
        for lr in (None, "1", -1, float("nan"), True):
            self.assertEqual(self.field(parse_lr, {"lr": lr}), "lr")

    def test_ids_outside_a_full_vocabulary_are_refused(self):
        m = random_model(tiny_config(gymrl_vocab_map=None, vocab_size=20))
        self.assertEqual(self.field(parse_batch, {"tokens": b64("i", [3, 20]), "seq_offsets": b64("i", [0, 2])}, m, False), "tokens")

    def test_arrays_round_trip(self):
        x = torch.tensor([1.5, -2.25, 1e-300], dtype=torch.float64)
        self.assertTrue(torch.equal(decode_array({"x": encode_array(x)}, "x", torch.float64), x))


if __name__ == "__main__":
    unittest.main()
