"""AdamW against torch.optim.AdamW (the same update written differently: p ← p(1 - lr·wd), then the
bias-corrected step) after torch's own gradient clipping, with gymrl's decay groups."""
import unittest

import torch

from gymrl_torch.model import param_kind
from gymrl_torch.optim import AdamW

from .helpers import random_model, tiny_config


def fake_grads(m, seed):
    g = torch.Generator().manual_seed(seed)
    for _, p in m.named_parameters():
        p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype)


class AdamWTest(unittest.TestCase):
    def test_two_steps_match_torch_adamw_with_clipping_and_decay_groups(self):
        cfg = {"beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weightDecay": 0.1, "gradClip": 1.0}
        a, b = random_model(tiny_config(), seed=1), random_model(tiny_config(), seed=1)
        ours = AdamW(list(a.named_parameters()), cfg)
        decay = [p for n, p in b.named_parameters() if param_kind(n) in ("matrix", "head")]
        rest = [p for n, p in b.named_parameters() if param_kind(n) not in ("matrix", "head")]
        self.assertTrue(decay and rest)
        theirs = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
        for step in range(2):
            fake_grads(a, step)
            fake_grads(b, step)
            norm = ours.step(1e-2)
            want = float(torch.nn.utils.clip_grad_norm_(b.parameters(), 1.0))
            theirs.step()
            self.assertAlmostEqual(norm, want, places=10)
            self.assertGreater(norm, 1.0)  # so the clipping did act
        for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
            self.assertLess(float((p - q).abs().max()), 1e-10, n)

    def test_state_round_trip(self):
        m = random_model(tiny_config())
        o = AdamW(list(m.named_parameters()))
        fake_grads(m, 0)
        o.step(1e-3)
        t, cfg, moments = o.state()
        o2 = AdamW(list(m.named_parameters()))
        flat = {f"exp_avg.{n}": mv[0] for n, mv in moments.items()} | {f"exp_avg_sq.{n}": mv[1] for n, mv in moments.items()}
        o2.load(t, flat)
        self.assertEqual(o2.t, 1)
        self.assertTrue(all(torch.equal(o2.v[n], o.v[n]) for n in o.v))
        with self.assertRaisesRegex(ValueError, "lacks exp_avg"):
            o2.load(1, {})


if __name__ == "__main__":
    unittest.main()
