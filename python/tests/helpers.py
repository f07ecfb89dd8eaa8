"""Tiny configs shared by the tests (the same shape as src/model/testing.ts tinyConfig)."""
import torch

from gymrl_torch.model import Decoder


def tiny_config(**over):
    ids = [3, 5, 8, 13, 21, 34, 55, 89, 144]
    c = {
        "model_type": "qwen3",
        "hidden_size": 8,
        "intermediate_size": 12,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 4,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000,
        "vocab_size": len(ids) + 1,
        "tie_word_embeddings": False,
        "max_position_embeddings": 32,
        "gymrl_vocab_map": ids,
    }
    c.update(over)
    return c


def random_model(config, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    m = Decoder(config, dtype=dtype)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            else:
                p.copy_(0.5 * torch.randn_like(p))
    return m
