"""How a packed batch is cut: across data-parallel ranks (contiguous sequence ranges of about equal
token counts), then into micro-batches of whole sequences (src/grpo/trainer.ts microBatches)."""


def rank_ranges(seq_offsets, world):
    """[(s0, s1)] per rank: contiguous, covering all S sequences, split near N·r/W tokens."""
    S = len(seq_offsets) - 1
    N = seq_offsets[S]
    bounds = [0]
    s = 0
    for r in range(1, world):
        while s < S and seq_offsets[s] * world < N * r:
            s += 1
        bounds.append(s)
    bounds.append(S)
    return [(bounds[r], bounds[r + 1]) for r in range(world)]


def micro_batches(seq_offsets, s0, s1, max_tokens):
    """[(a, b)] sequence ranges within [s0, s1) of at most max_tokens tokens (a longer sequence goes alone)."""
    out = []
    a = s0
    for s in range(s0, s1):
        if s > a and seq_offsets[s + 1] - seq_offsets[a] > max_tokens:
            out.append((a, s))
            a = s
    if s1 > a:
        out.append((a, s1))
    return out
