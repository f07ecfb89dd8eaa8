"""gymrl_torch.loss against the golden cases generated from src/grpo/loss.ts: the loss value and
autograd's dLoss/dcurr equal the TypeScript loss and its hand-written gradient, for every option."""
import json
import os
import unittest

import torch

from gymrl_torch.loss import LossConfigError, clipped_pg_loss, resolve_config

GOLDEN = os.path.join(os.path.dirname(__file__), "loss_golden.json")


def run_case(case):
    x = case["input"]
    f = lambda k: torch.tensor(x[k], dtype=torch.float64)  # noqa: E731
    curr = f("curr_logprobs").requires_grad_(True)
    loss, _ = clipped_pg_loss(
        curr,
        torch.tensor(x["seq_offsets"]),
        f("token_mask"),
        f("generation_logprobs"),
        f("advantages"),
        resolve_config(case["config"]),
        prev=f("prev_logprobs"),
        ref=f("reference_logprobs"),
        sample_mask=f("sample_mask"),
        global_valid_toks=x.get("global_valid_toks"),
        global_valid_seqs=x.get("global_valid_seqs"),
    )
    loss.backward()
    return float(loss.detach()), curr.grad


class GoldenLossTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(GOLDEN) as fh:
            cls.cases = json.load(fh)["cases"]

    def test_every_case_matches_typescript(self):
        self.assertGreaterEqual(len(self.cases), 25)
        for case in self.cases:
            with self.subTest(case=case["name"]):
                loss, grad = run_case(case)
                want = torch.tensor(case["d_curr_logprobs"], dtype=torch.float64)
                self.assertAlmostEqual(loss, case["loss"], delta=1e-12 + 1e-10 * abs(case["loss"]))
                scale = max(1e-12, float(want.abs().max()))
                err = float((grad - want).abs().max())
                self.assertLessEqual(err, 1e-10 * scale, f"max |dL/dcurr - golden| = {err:.3g} (scale {scale:.3g})")

    def test_gradients_are_not_trivially_zero(self):
        # a case whose gradient the loss never reaches would pass the comparison above vacuously
        for case in self.cases:
            with self.subTest(case=case["name"]):
                self.assertGreater(max(abs(g) for g in case["d_curr_logprobs"]), 0)

    def test_bad_combinations_are_rejected_like_typescript(self):
        with self.assertRaisesRegex(LossConfigError, "token_level_loss"):
            resolve_config({"sequence_level_importance_ratios": True})
        with self.assertRaisesRegex(LossConfigError, "unknown loss option"):
            resolve_config({"ratio_clip": 0.2})
        with self.assertRaisesRegex(LossConfigError, "ratio_clip_c"):
            resolve_config({"ratio_clip_c": 0.5})
        with self.assertRaisesRegex(LossConfigError, "needs use_importance_sampling_correction"):
            resolve_config({"truncated_importance_sampling_type": "tis", "truncated_importance_sampling_ratio": 2})


if __name__ == "__main__":
    unittest.main()
