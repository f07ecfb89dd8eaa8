"""The decoder against a plain per-token reference written differently (loops over positions, RoPE
as a complex rotation, GQA by index), in float64; plus causality and packing invariances."""
import math
import unittest

import torch

from gymrl_torch.model import param_kind

from .helpers import random_model, tiny_config


def reference_logprobs(m, seq, T):
    """log p(seq[t] | seq[<t]) for t ≥ 1 by the textbook definition, one position at a time."""
    dm = m.dm
    P = dict(m.named_parameters())
    rms = lambda x, w: x / torch.sqrt((x * x).mean() + dm.eps) * w  # noqa: E731
    rows = m.vocab.input_rows(torch.tensor(seq))
    xs = [P["model.embed_tokens.weight"][r] for r in rows]
    inv = [1.0 / (dm.rope_theta ** (2 * j / dm.d)) for j in range(dm.d // 2)]

    def rot(v, pos):  # (D,) as D/2 complex numbers (v[j] + i v[j + D/2]) times e^{i pos inv_j}
        h = dm.d // 2
        z = torch.complex(v[:h], v[h:]) * torch.polar(torch.ones(h, dtype=v.dtype), pos * torch.tensor(inv, dtype=v.dtype))
        return torch.cat([z.real, z.imag])

    for l in range(dm.l):
        p = f"model.layers.{l}."
        qs, ks, vs = [], [], []
        for pos, x in enumerate(xs):
            h = rms(x, P[p + "input_layernorm.weight"])
            q = (P[p + "self_attn.q_proj.weight"] @ h).view(dm.hq, dm.d)
            k = (P[p + "self_attn.k_proj.weight"] @ h).view(dm.hkv, dm.d)
            v = (P[p + "self_attn.v_proj.weight"] @ h).view(dm.hkv, dm.d)
            if dm.qk_norm:
                q = torch.stack([rms(q[i], P[p + "self_attn.q_norm.weight"]) for i in range(dm.hq)])
                k = torch.stack([rms(k[i], P[p + "self_attn.k_norm.weight"]) for i in range(dm.hkv)])
            qs.append(torch.stack([rot(q[i], pos) for i in range(dm.hq)]))
            ks.append(torch.stack([rot(k[i], pos) for i in range(dm.hkv)]))
            vs.append(v)
        out = []
        for t, x in enumerate(xs):
            heads = []
            for i in range(dm.hq):
                kv = i // (dm.hq // dm.hkv)
                s = torch.stack([qs[t][i] @ ks[u][kv] / math.sqrt(dm.d) for u in range(t + 1)])
                a = torch.softmax(s, 0)
                heads.append(sum(a[u] * vs[u][kv] for u in range(t + 1)))
            x2 = x + P[p + "self_attn.o_proj.weight"] @ torch.cat(heads)
            h2 = rms(x2, P[p + "post_attention_layernorm.weight"])
            g = P[p + "mlp.gate_proj.weight"] @ h2
            out.append(x2 + P[p + "mlp.down_proj.weight"] @ (g * torch.sigmoid(g) * (P[p + "mlp.up_proj.weight"] @ h2)))
        xs = out
    head = P["model.embed_tokens.weight"] if dm.tied else P["lm_head.weight"]
    lp = [0.0]
    for t in range(1, len(seq)):
        logits = head[: dm.v_out] @ rms(xs[t - 1], P["model.norm.weight"]) / T
        row = int(m.vocab.output_rows(torch.tensor([seq[t]]))[0])
        lp.append(0.0 if row < 0 else float(torch.log_softmax(logits, 0)[row]))
    return lp


class DecoderTest(unittest.TestCase):
    def check(self, config, T):
        m = random_model(config, seed=3)
        seqs = [[3, 5, 8, 99, 13, 21], [144, 3], [55, 89, 34, 5, 5]]
        toks = torch.tensor([t for s in seqs for t in s])
        off = torch.tensor([0, 6, 8, 13])
        with torch.no_grad():
            lp, ent = m(toks, off, T)
        want = [x for s in seqs for x in reference_logprobs(m, s, T)]
        self.assertLess(float((lp - torch.tensor(want, dtype=torch.float64)).abs().max()), 1e-7)  # RoPE angles are float32-rounded, as HF computes them
        self.assertEqual(float(lp[3]), 0.0)  # id 99 is outside the compact vocabulary: no score
        self.assertTrue(bool((ent[torch.tensor([0, 6, 8])] == 0).all()))  # first tokens
        self.assertTrue(bool((ent[torch.tensor([1, 2, 4])] > 0).all()))

    def test_qwen3_untied_compact_vocab_at_temperature(self):
        self.check(tiny_config(), 0.7)

    def test_llama_tied_full_vocab(self):
        cfg = tiny_config(model_type="llama", tie_word_embeddings=True, num_key_value_heads=1, gymrl_vocab_map=None, vocab_size=150)
        m = random_model(cfg)
        self.assertFalse(any(n == "lm_head.weight" for n, _ in m.named_parameters()))
        toks = torch.tensor([3, 5, 8, 13, 21, 149])
        with torch.no_grad():
            lp, _ = m(toks, torch.tensor([0, 6]), 1.0)
        want = reference_logprobs(m, toks.tolist(), 1.0)
        self.assertLess(float((lp - torch.tensor(want, dtype=torch.float64)).abs().max()), 1e-7)  # RoPE angles are float32-rounded, as HF computes them

    def test_causal_and_packing_invariant(self):
        m = random_model(tiny_config(), seed=5)
        a, b = [3, 5, 8, 13, 21], [34, 55, 89]
        with torch.no_grad():
            packed, _ = m(torch.tensor(a + b), torch.tensor([0, 5, 8]))
            alone, _ = m(torch.tensor(b), torch.tensor([0, 3]))
            changed, _ = m(torch.tensor(a[:3] + [144, 144] + b), torch.tensor([0, 5, 8]))
        self.assertLess(float((packed[5:] - alone).abs().max()), 1e-12)
        self.assertLess(float((packed[:3] - changed[:3]).abs().max()), 1e-12)  # later tokens do not leak back
        self.assertGreater(float((packed[3:5] - changed[3:5]).abs().max()), 0)

    def test_parameter_order_and_kinds_follow_gymrl_layout(self):
        names = [n for n, _ in random_model(tiny_config()).named_parameters()]
        self.assertEqual(names[0], "model.embed_tokens.weight")
        self.assertEqual(names[1:12], [
            "model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
            "model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.q_norm.weight",
            "model.layers.0.self_attn.k_norm.weight", "model.layers.0.post_attention_layernorm.weight", "model.layers.0.mlp.gate_proj.weight",
            "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        ])
        self.assertEqual(names[-2:], ["model.norm.weight", "lm_head.weight"])
        self.assertEqual([param_kind(n) for n in names[:3]], ["embedding", "norm", "matrix"])
        self.assertEqual(param_kind("lm_head.weight"), "head")


if __name__ == "__main__":
    unittest.main()
