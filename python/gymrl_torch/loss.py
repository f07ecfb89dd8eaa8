"""The clipped policy-gradient loss of src/grpo/loss.ts (NeMo RL's ClippedPGLossFn) written with
torch autograd, over a packed batch of token-aligned logprobs. The TypeScript file derives the
gradient by hand; here autograd does, and golden cases generated from the TypeScript loss
(python/tests/loss_golden.json) pin the two to each other: same loss, same dLoss/dcurr.

Per valid token t of sequence s (mask_t = token_mask_t · sample_mask_s):
    r_t = exp(curr_t - prev_t)          (GSPO: r_s = exp(mean_t (curr - prev)); REINFORCE: r_t = curr_t)
    clip_t = max(-A r, -A clamp(r, 1 - ε_lo, 1 + ε_hi))   (dual clip, A < 0: at most -A c)
    w_t = sg(exp(prev - gen)), truncated                   (1 without IS correction)
    loss = Σ_t c_t (w_t clip_t + β kl_t)
c_t = mask_t / Ntok (token-level) or mask_t / (n_s Nseq) (sequence-level), with the GLOBAL valid token
and sequence counts when given, so micro-batches and data-parallel ranks add up to the whole batch.
Config keys are NeMo RL's (snake_case); DEFAULTS equal src/grpo/defaults.ts.
"""
import torch

EPS = 1e-8  # NeMo RL masked_mean's denominator guard

DEFAULTS = {
    "disable_ppo_ratio": False,
    "token_level_loss": True,
    "sequence_level_importance_ratios": False,
    "ratio_clip_min": 0.2,
    "ratio_clip_max": 0.2,
    "ratio_clip_c": None,
    "reference_policy_kl_penalty": 0.01,
    "reference_policy_kl_type": "k3",
    "kl_input_clamp_value": 20.0,
    "kl_output_clamp_value": 10.0,
    "use_on_policy_kl_approximation": False,
    "use_importance_sampling_correction": False,
    "truncated_importance_sampling_type": None,
    "truncated_importance_sampling_ratio": None,
    "truncated_importance_sampling_ratio_min": None,
    "force_on_policy_ratio": False,
    "use_cispo": False,
}


class LossConfigError(ValueError):
    pass


def resolve_config(cfg):
    """Defaults filled, unknown keys and bad combinations rejected (the same rules as loss.ts)."""
    cfg = cfg or {}
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise LossConfigError(f"unknown loss option(s): {', '.join(unknown)}")
    c = {**DEFAULTS, **cfg}

    def fail(msg):
        raise LossConfigError(msg)

    if c["sequence_level_importance_ratios"] and c["token_level_loss"]:
        fail("sequence_level_importance_ratios (GSPO) needs token_level_loss false: its ratio is per sequence")
    if c["ratio_clip_c"] is not None and not c["ratio_clip_c"] > 1:
        fail(f"ratio_clip_c must exceed 1, got {c['ratio_clip_c']}")
    if c["reference_policy_kl_type"] not in ("k1", "k2", "k3"):
        fail(f"unknown reference_policy_kl_type {c['reference_policy_kl_type']!r}; expected k1, k2 or k3")
    if c["use_cispo"]:
        if c["disable_ppo_ratio"]:
            fail("use_cispo needs the π/π_old ratio, which disable_ppo_ratio removes")
        if c["force_on_policy_ratio"]:
            fail("use_cispo optimises the clipped IS weight that force_on_policy_ratio pins to 1")
        if c["sequence_level_importance_ratios"]:
            fail("use_cispo uses token-level ratios")
        if c["ratio_clip_c"] is not None:
            fail("use_cispo is incompatible with dual clipping (ratio_clip_c)")
        if not c["token_level_loss"]:
            fail("use_cispo requires token_level_loss")
    t = c["truncated_importance_sampling_type"]
    mx, mn = c["truncated_importance_sampling_ratio"], c["truncated_importance_sampling_ratio_min"]
    if t is None and mx is not None:
        fail("truncated_importance_sampling_ratio is set but truncated_importance_sampling_type is null")
    if t is not None:
        if not c["use_importance_sampling_correction"]:
            fail("truncated importance sampling needs use_importance_sampling_correction")
        if t not in ("tis", "icepop", "seq-mask-tis"):
            fail(f"unknown truncated_importance_sampling_type {t}")
        if mx is None or not mx > 0:
            fail("truncated_importance_sampling_ratio must be positive")
        if mn is not None and mn > mx:
            fail("truncated_importance_sampling_ratio_min must be <= truncated_importance_sampling_ratio")
        if t in ("icepop", "seq-mask-tis") and mn is None:
            fail(f"{t} needs truncated_importance_sampling_ratio_min")
        if t == "seq-mask-tis" and c["sequence_level_importance_ratios"]:
            fail("seq-mask-tis is incompatible with sequence_level_importance_ratios")
    return c


def _finite_or_zero(x):
    """torch.nan_to_num(x, nan=0, posinf=0, neginf=0): an overflowed weight drops the token."""
    return torch.where(torch.isfinite(x), x, torch.zeros_like(x))


def _exp_or_zero(x):
    """exp(x), 0 where it overflows, without the where-NaN trap in the backward (exp's grad at inf)."""
    ok = torch.isfinite(torch.exp(x.detach()))
    return torch.where(ok, torch.exp(torch.where(ok, x, torch.zeros_like(x))), torch.zeros_like(x))


def _seq_sum(x, seg, S):
    return torch.zeros(S, dtype=x.dtype, device=x.device).index_add(0, seg, x)


def clipped_pg_loss(curr, seq_offsets, token_mask, generation, advantages, cfg, prev=None, ref=None, sample_mask=None, global_valid_toks=None, global_valid_seqs=None):
    """Differentiable loss (0-dim tensor) w.r.t. curr (N,). Arrays are (N,) token-aligned, offsets (S+1,),
    sample_mask (S,). cfg: a dict already passed through resolve_config."""
    dev, dt = curr.device, curr.dtype
    off = seq_offsets.to(dev).long()
    S = off.numel() - 1
    lens = off[1:] - off[:-1]
    seg = torch.repeat_interleave(torch.arange(S, device=dev), lens)  # (N,) sequence of each token
    tm = token_mask.to(dev, dt)
    sm = sample_mask.to(dev, dt) if sample_mask is not None else torch.ones(S, dtype=dt, device=dev)
    mask = tm * sm[seg]
    valid = mask != 0
    n_tok = _seq_sum(tm, seg, S)
    Ntok = float(global_valid_toks) if global_valid_toks is not None else float(mask.sum())
    Nseq = float(global_valid_seqs) if global_valid_seqs is not None else float(sm.sum())
    if cfg["token_level_loss"]:
        c = mask / (Ntok + EPS)
    else:
        c = mask / ((n_tok[seg] + EPS) * (Nseq + EPS))

    anchor = curr.detach()  # sg(curr)
    if cfg["force_on_policy_ratio"]:
        prev = anchor
    elif prev is None:
        raise LossConfigError("prev_logprobs is required unless force_on_policy_ratio")
    beta = cfg["reference_policy_kl_penalty"]
    if beta != 0 and ref is None:
        raise LossConfigError("reference_logprobs is required when reference_policy_kl_penalty != 0")
    # Masked tokens weigh 0; give them harmless values so nothing non-finite meets a 0 weight.
    keep = lambda x: torch.where(valid, x.to(dev, dt), anchor)  # noqa: E731
    prev = keep(prev)
    gen = keep(generation)
    A = torch.where(valid, advantages.to(dev, dt), torch.zeros_like(anchor))
    ref = keep(ref) if ref is not None else None

    # ---- ratios ------------------------------------------------------------------------------------
    lo, hi = 1 - cfg["ratio_clip_min"], 1 + cfg["ratio_clip_max"]
    if cfg["force_on_policy_ratio"]:
        r = torch.exp(curr - anchor)  # value 1, gradient 1
        rc = r
    elif cfg["disable_ppo_ratio"]:
        r = curr  # REINFORCE: the "ratio" is the logprob itself
        rc = r
    else:
        if cfg["sequence_level_importance_ratios"]:
            lr = _seq_sum(torch.where(tm != 0, (curr - prev) * tm, torch.zeros_like(curr)), seg, S)
            r = torch.exp(lr / (n_tok + EPS))[seg]
        else:
            r = torch.exp(curr - prev)
        rc = r.clamp(lo, hi)

    # ---- importance weights (detached) --------------------------------------------------------------
    w = None
    if cfg["use_importance_sampling_correction"]:
        w = _importance_weights(prev.detach(), gen, tm, mask, seg, S, n_tok, cfg)

    # ---- actor loss ----------------------------------------------------------------------------------
    if cfg["use_cispo"]:
        rc_detached = torch.exp(anchor - prev).clamp(lo, hi)
        clip = -A * rc_detached * curr
    else:
        l1, l2 = -A * r, -A * rc
        clip = torch.where(l1 >= l2, l1, l2)  # l2 only where r is strictly outside the clip range
    if cfg["ratio_clip_c"] is not None:
        l3 = (-A * cfg["ratio_clip_c"]).detach()  # dual clip: cap the loss of a negative advantage
        clip = torch.where((A < 0) & (l3 < clip), l3, clip)
    per_token = clip * w if w is not None else clip
    actor = (c * per_token).sum()

    # ---- KL to the reference -------------------------------------------------------------------------
    kl = torch.zeros((), dtype=dt, device=dev)
    if beta != 0:
        cin, cout = cfg["kl_input_clamp_value"], cfg["kl_output_clamp_value"]
        logr = ref - curr
        at = curr
        if cin is not None:
            # where |ref - curr| hits the input clamp, the weight is evaluated at sg(curr) (NeMo RL detaches it)
            at = torch.where(logr.detach().abs() > cin, anchor, curr)
            logr = logr.clamp(-cin, cin)
        base = gen if cfg["use_on_policy_kl_approximation"] else anchor
        weight = _exp_or_zero(at - base)  # the score-function weight: value exp(·), gradient itself
        t = cfg["reference_policy_kl_type"]
        if t == "k1":
            k = -logr
        elif t == "k2":
            k = logr * logr / 2
        else:
            k = torch.exp(logr) - 1 - logr
        value = weight * k
        if cout is not None:
            value = value.clamp(-cout, cout)
        kl = (c * value).sum()
    loss = actor + beta * kl
    return loss, {"actor_loss": float(actor.detach()), "kl_penalty": float(kl.detach())}


def _importance_weights(prev, gen, tm, mask, seg, S, n_tok, cfg):
    """(N,) detached weights π_prev / π_gen after truncation (importance-sampling.ts)."""
    seq_level = cfg["sequence_level_importance_ratios"]
    typ = cfg["truncated_importance_sampling_type"]
    mx, mn = cfg["truncated_importance_sampling_ratio"], cfg["truncated_importance_sampling_ratio_min"]
    if seq_level:
        lp = _seq_sum(torch.where(mask != 0, (prev - gen) * mask, torch.zeros_like(prev)), seg, S)
        w = _finite_or_zero(torch.exp(lp))  # (S,)
    else:
        w = _finite_or_zero(torch.exp(prev - gen))  # (N,)
    if mx is not None:
        if typ in ("tis", "icepop"):
            lo = (mn if mn is not None else 0.0) if typ == "tis" else mn
            if typ == "tis":
                w = w.clamp(lo, mx)
            else:
                w = torch.where((w >= lo) & (w <= mx), w, torch.zeros_like(w))
        elif typ == "seq-mask-tis":
            d = _finite_or_zero(prev - gen)
            geo = torch.exp(_seq_sum(torch.where(tm != 0, d * tm, torch.zeros_like(d)), seg, S) / (n_tok + EPS))
            keep = (geo >= mn) & (geo <= mx)
            w = torch.where(keep[seg], w, torch.zeros_like(w))
    return w[seg] if seq_level else w
