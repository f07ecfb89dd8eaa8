"""Cutting a packed batch across ranks and into micro-batches."""
import unittest

from gymrl_torch.batching import micro_batches, rank_ranges


class BatchingTest(unittest.TestCase):
    def test_rank_ranges_cover_everything_contiguously_and_balance_tokens(self):
        off = [0, 10, 12, 30, 31, 40, 60, 61, 62]
        for world in (1, 2, 3, 8, 12):
            r = rank_ranges(off, world)
            self.assertEqual(len(r), world)
            self.assertEqual(r[0][0], 0)
            self.assertEqual(r[-1][1], len(off) - 1)
            for (a, b), (c, _) in zip(r, r[1:]):
                self.assertEqual(b, c)
                self.assertLessEqual(a, b)
        (a, b), (c, d) = rank_ranges(off, 2)
        self.assertEqual((a, b, c, d), (0, 4, 4, 8))  # 31 tokens | 31 tokens

    def test_micro_batches_as_the_typescript_trainer(self):
        off = [0, 3, 6, 20, 22, 24]
        self.assertEqual(micro_batches(off, 0, 5, 6), [(0, 2), (2, 3), (3, 5)])  # the 14-token sequence goes alone
        self.assertEqual(micro_batches(off, 1, 4, 100), [(1, 4)])
        self.assertEqual(micro_batches(off, 2, 2, 4), [])


if __name__ == "__main__":
    unittest.main()
