/**
 * The clipped policy-gradient loss (NeMo RL `ClippedPGLossFn`), forward and gradient together, over
 * a packed batch of token logprobs. Not the model: the trainer turns dLoss/dCurrLogprobs into
 * gradients on logits with its own log-softmax backward.
 *
 * Per valid token t of sequence s (mask_t = tokenMask_t · sampleMask_s):
 *   r_t    = exp(curr_t - prev_t)                      (GSPO: r_s = exp(mean_t (curr - prev)))
 *   rc_t   = clamp(r_t, 1 - ratioClipMin, 1 + ratioClipMax)
 *   clip_t = max(-A_t r_t, -A_t rc_t)                 (dual clip, A < 0: min(clip_t, -A_t c))
 *   w_t    = exp(prev_t - gen_t), truncated            (1 unless useImportanceSamplingCorrection)
 *   kl_t   = klTerm(curr_t, ref_t, type, clamps, exp(curr_t - sg(curr_t)))
 *   loss   = Σ_t c_t (w_t clip_t + β kl_t)
 * where c_t = mask_t / Ntok (token-level) or mask_t / (n_s · Nseq) (sequence-level: mean per
 * sequence, then mean over sequences), Ntok/Nseq the global valid token/sequence counts.
 *
 * Stop-gradients: NeMo RL writes some factors as x - x.detach() (forward value 1, gradient kept: the
 * KL's score-function weight, force_on_policy_ratio) or detaches a factor (CISPO). The gradient
 * returned is autograd's: the derivative with every sg(curr) held fixed. A finite-difference check
 * therefore perturbs curr while `currLogprobsDetached` stays at the unperturbed values.
 */
import { CLIPPED_PG_LOSS_DEFAULTS, MASKED_MEAN_EPSILON, type ClippedPgLossConfig } from "./defaults.ts";
import { checkPacked, combinedMask, maskedMean, sum, tokensPerSequence, type Floats, type PackedSequences } from "./batch.ts";
import { finiteOrZero, importanceWeights } from "./importance-sampling.ts";
import { klTerm } from "./kl.ts";
import * as m from "./metrics.ts";

export interface PgLossInput extends PackedSequences {
  /** (N,) log π_θ of each token: what the gradient is taken with respect to. */
  currLogprobs: Floats;
  /** (N,) log π_old from the trainer before this update; unused with forceOnPolicyRatio. */
  prevLogprobs?: Floats;
  /** (N,) log π_gen reported by the sampler; 0 where tokenMask is 0. */
  generationLogprobs: Floats;
  /** (N,) log π_ref; required when referencePolicyKlPenalty ≠ 0. */
  refLogprobs?: Floats;
  /** (N,) per-token advantages (a sample's advantage on its generated tokens). */
  advantages: Floats;
  /** (N,) true per-token entropy, if the trainer has it; reported as `entropy`. */
  entropy?: Floats;
  /** microbatching: the whole batch's Σ mask; default this input's. */
  globalValidToks?: number;
  /** microbatching: the whole batch's Σ sampleMask; default this input's. */
  globalValidSeqs?: number;
  /** the value sg(curr) takes; defaults to currLogprobs. Only a gradient check sets it. */
  currLogprobsDetached?: Floats;
}

export interface PgLossMetrics {
  loss: number;
  /** masked mean of the PPO ratio and of its clamp, with extrema (NeMo `probs_ratio*`). */
  probsRatio: number;
  probsRatioClamped: number;
  probsRatioMin: number;
  probsRatioMax: number;
  probsRatioClampedMin: number;
  probsRatioClampedMax: number;
  /** share of valid tokens whose ratio was clipped (not a NeMo key; PPO's usual clipfrac). */
  clipFraction: number;
  /** reduced KL to the reference divided by β (NeMo `kl_penalty`); 0 without KL. */
  klPenalty: number;
  tokenMultProbError: number;
  genKlError: number;
  policyKlError: number;
  jsDivergenceError: number;
  /** mean IS weight after truncation (NeMo `sampling_importance_ratio`; per sequence under GSPO). */
  samplingImportanceRatio: number;
  /** raw token exp(prev - gen) over valid tokens, before truncation. */
  isRatioMean: number;
  isRatioMin: number;
  isRatioMax: number;
  /** out-of-bounds share for truncated IS; absent without truncation. */
  isOobRatio?: number;
  numValidSamples: number;
  approxEntropy: number;
  entropy?: number;
}

export interface PgLossOutput {
  loss: number;
  /** (N,) dLoss/dCurrLogprobs; 0 on masked tokens. */
  dCurrLogprobs: Float64Array;
  metrics: PgLossMetrics;
}

export class LossConfigError extends RangeError {
  override readonly name = "LossConfigError";
}

/** The same combinations NeMo RL's constructor rejects, with its reasons. */
export function validateClippedPgLossConfig(c: ClippedPgLossConfig): void {
  const fail = (msg: string): never => {
    throw new LossConfigError(msg);
  };
  if (c.sequenceLevelImportanceRatios && c.tokenLevelLoss) {
    fail("sequenceLevelImportanceRatios (GSPO) needs tokenLevelLoss false: its ratio is per sequence");
  }
  if (c.ratioClipC !== null && !(c.ratioClipC > 1)) fail(`ratioClipC must exceed 1, got ${c.ratioClipC}`);
  if (c.useCispo) {
    if (c.disablePpoRatio) fail("useCispo needs the π/π_old ratio, which disablePpoRatio removes");
    if (c.forceOnPolicyRatio) fail("useCispo optimises the clipped IS weight that forceOnPolicyRatio pins to 1");
    if (c.sequenceLevelImportanceRatios) fail("useCispo uses token-level ratios");
    if (c.ratioClipC !== null) fail("useCispo is incompatible with dual clipping (ratioClipC)");
    if (!c.tokenLevelLoss) fail("useCispo requires tokenLevelLoss");
  }
  const t = c.truncatedImportanceSamplingType;
  if (t === null && c.truncatedImportanceSamplingRatio !== null) {
    fail("truncatedImportanceSamplingRatio is set but truncatedImportanceSamplingType is null");
  }
  if (t !== null) {
    if (!c.useImportanceSamplingCorrection) fail("truncated importance sampling needs useImportanceSamplingCorrection");
    if (t !== "tis" && t !== "icepop" && t !== "seq-mask-tis") fail(`unknown truncatedImportanceSamplingType ${String(t)}`);
    const max = c.truncatedImportanceSamplingRatio;
    const min = c.truncatedImportanceSamplingRatioMin;
    if (max === null || !(max > 0)) fail("truncatedImportanceSamplingRatio must be positive");
    if (min !== null && max !== null && min > max) fail("truncatedImportanceSamplingRatioMin must be <= truncatedImportanceSamplingRatio");
    if ((t === "icepop" || t === "seq-mask-tis") && min === null) fail(`${t} needs truncatedImportanceSamplingRatioMin`);
    if (t === "seq-mask-tis" && c.sequenceLevelImportanceRatios) fail("seq-mask-tis is incompatible with sequenceLevelImportanceRatios");
  }
}

export function clippedPgLoss(input: PgLossInput, config: Partial<ClippedPgLossConfig> = {}): PgLossOutput {
  const cfg: ClippedPgLossConfig = { ...CLIPPED_PG_LOSS_DEFAULTS, ...config };
  validateClippedPgLossConfig(cfg);
  const beta = cfg.referencePolicyKlPenalty;
  const [S, N] = checkPacked(input, {
    currLogprobs: input.currLogprobs,
    prevLogprobs: input.prevLogprobs,
    generationLogprobs: input.generationLogprobs,
    refLogprobs: input.refLogprobs,
    advantages: input.advantages,
    entropy: input.entropy,
    currLogprobsDetached: input.currLogprobsDetached,
  });
  const curr = input.currLogprobs;
  const anchor = input.currLogprobsDetached ?? curr; // sg(curr)
  const gen = input.generationLogprobs;
  const A = input.advantages;
  // force_on_policy_ratio: prev := sg(curr), for the ratio, the IS weights and the metrics alike.
  const prev = cfg.forceOnPolicyRatio ? anchor : input.prevLogprobs;
  if (!prev) throw new LossConfigError("prevLogprobs is required unless forceOnPolicyRatio");
  const ref = input.refLogprobs;
  if (beta !== 0 && !ref) throw new LossConfigError("refLogprobs is required when referencePolicyKlPenalty ≠ 0");

  const off = input.seqOffsets;
  const mask = combinedMask(input); // (N,)
  const nTok = tokensPerSequence(input); // (S,)
  const Ntok = input.globalValidToks ?? sum(mask);
  const Nseq = input.globalValidSeqs ?? (input.sampleMask ? sum(input.sampleMask) : S);

  // c_t: each token's weight in the reduction.
  const c = new Float64Array(N);
  for (let s = 0; s < S; s++) {
    const denom = cfg.tokenLevelLoss ? Ntok + MASKED_MEAN_EPSILON : (nTok[s] + MASKED_MEAN_EPSILON) * (Nseq + MASKED_MEAN_EPSILON);
    for (let t = off[s]; t < off[s + 1]; t++) c[t] = mask[t] / denom;
  }

  // ---- ratios: r (N,), rc (N,), and for GSPO the per-sequence value ----------------------------
  const lo = 1 - cfg.ratioClipMin;
  const hi = 1 + cfg.ratioClipMax;
  const clamp = (x: number): number => Math.min(Math.max(x, lo), hi);
  const r = new Float64Array(N);
  const rc = new Float64Array(N);
  for (let s = 0; s < S; s++) {
    let seqRatio = 0;
    if (cfg.sequenceLevelImportanceRatios && !cfg.forceOnPolicyRatio && !cfg.disablePpoRatio) {
      let lr = 0;
      for (let t = off[s]; t < off[s + 1]; t++) if (input.tokenMask[t] !== 0) lr += (curr[t] - prev[t]) * input.tokenMask[t];
      seqRatio = Math.exp(lr / (nTok[s] + MASKED_MEAN_EPSILON));
    }
    for (let t = off[s]; t < off[s + 1]; t++) {
      if (cfg.forceOnPolicyRatio) {
        r[t] = Math.exp(curr[t] - anchor[t]); // value 1, gradient 1
        rc[t] = r[t];
      } else if (cfg.disablePpoRatio) {
        r[t] = curr[t]; // REINFORCE: the "ratio" is the logprob itself
        rc[t] = curr[t];
      } else {
        r[t] = cfg.sequenceLevelImportanceRatios ? seqRatio : Math.exp(curr[t] - prev[t]);
        rc[t] = clamp(r[t]);
      }
    }
  }

  // ---- importance weights (detached) ----------------------------------------------------------
  const isw = importanceWeights(
    input,
    prev,
    gen,
    {
      sequenceLevel: cfg.sequenceLevelImportanceRatios,
      type: cfg.truncatedImportanceSamplingType,
      max: cfg.truncatedImportanceSamplingRatio,
      min: cfg.truncatedImportanceSamplingRatioMin,
    },
    Ntok,
    Nseq,
  );
  const w = cfg.useImportanceSamplingCorrection ? isw.weights : null;

  // ---- actor loss and its gradient ---------------------------------------------------------------
  const d = new Float64Array(N);
  const dSeqRatio = new Float64Array(S); // GSPO: Σ_t c_t w_t dclip_t/dr_s, pushed to tokens below
  let actorLoss = 0;
  for (let s = 0; s < S; s++) {
    for (let t = off[s]; t < off[s + 1]; t++) {
      if (mask[t] === 0) continue;
      const a = A[t];
      const wt = w ? w[t] : 1;
      let clip: number;
      let dClip: number; // d clip / d r, or d clip / d curr for CISPO
      if (cfg.useCispo) {
        const rcDetached = clamp(Math.exp(anchor[t] - prev[t]));
        clip = -a * rcDetached * curr[t];
        dClip = -a * rcDetached;
      } else {
        const l1 = -a * r[t];
        const l2 = -a * rc[t];
        // Pessimistic max. l2 wins only when r is strictly outside the clip range, where rc is flat.
        clip = l1 >= l2 ? l1 : l2;
        dClip = l1 >= l2 ? -a : 0;
      }
      if (cfg.ratioClipC !== null && a < 0) {
        const l3 = -a * cfg.ratioClipC; // dual clip: cap the loss of a negative advantage at -A·c
        if (l3 < clip) {
          clip = l3;
          dClip = 0;
        }
      }
      actorLoss += c[t] * wt * clip;
      const g = c[t] * wt * dClip;
      if (cfg.useCispo || cfg.disablePpoRatio) d[t] += g; // dr/dcurr = 1 (CISPO: dClip is already per curr)
      else if (cfg.sequenceLevelImportanceRatios && !cfg.forceOnPolicyRatio) dSeqRatio[s] += g;
      else d[t] += g * r[t]; // r = exp(curr - ·) → dr/dcurr = r
    }
  }
  if (cfg.sequenceLevelImportanceRatios && !cfg.forceOnPolicyRatio && !cfg.disablePpoRatio) {
    // r_s = exp(Σ_t tokenMask_t (curr_t - prev_t) / n_s) → dr_s/dcurr_t = r_s · tokenMask_t / n_s
    for (let s = 0; s < S; s++) {
      if (dSeqRatio[s] === 0) continue;
      const first = off[s];
      const per = (dSeqRatio[s] * r[first]) / (nTok[s] + MASKED_MEAN_EPSILON);
      for (let t = off[s]; t < off[s + 1]; t++) d[t] += per * input.tokenMask[t];
    }
  }

  // ---- KL to the reference -------------------------------------------------------------------------
  let klPenalty = 0;
  if (beta !== 0 && ref) {
    for (let t = 0; t < N; t++) {
      if (mask[t] === 0) continue;
      // The KL samples come from the policy being optimised, so its gradient carries the score term
      // through this weight: exp(curr - gen) on-policy-approximated, else exp(curr - sg(curr)) = 1.
      // d/dcurr exp(curr - x) is the weight itself; an overflowed (zeroed) weight passes nothing.
      // Where |ref - curr| hits the input clamp NeMo RL detaches the weight: evaluate it at sg(curr).
      const inputClamped = cfg.klInputClampValue !== null && Math.abs(ref[t] - curr[t]) > cfg.klInputClampValue;
      const at = inputClamped ? anchor[t] : curr[t];
      const weight = finiteOrZero(Math.exp(at - (cfg.useOnPolicyKlApproximation ? gen[t] : anchor[t])));
      const k = klTerm(curr[t], ref[t], cfg.referencePolicyKlType, cfg.klInputClampValue, cfg.klOutputClampValue, weight, weight);
      klPenalty += c[t] * k.value;
      d[t] += beta * c[t] * k.dLogprob;
    }
  }
  const loss = actorLoss + beta * klPenalty;

  // ---- metrics ---------------------------------------------------------------------------------------
  let rMin = Infinity;
  let rMax = -Infinity;
  let rcMin = Infinity;
  let rcMax = -Infinity;
  const clipped = new Float64Array(N);
  for (let t = 0; t < N; t++) {
    if (mask[t] === 0) continue;
    rMin = Math.min(rMin, r[t]);
    rMax = Math.max(rMax, r[t]);
    rcMin = Math.min(rcMin, rc[t]);
    rcMax = Math.max(rcMax, rc[t]);
    clipped[t] = r[t] !== rc[t] ? 1 : 0;
  }
  const sampleMask = input.sampleMask ?? new Float64Array(S).fill(1);
  const raw = m.isRatioStats(prev, gen, mask);
  const metrics: PgLossMetrics = {
    loss,
    probsRatio: maskedMean(r, mask, Ntok),
    probsRatioClamped: maskedMean(rc, mask, Ntok),
    probsRatioMin: rMin,
    probsRatioMax: rMax,
    probsRatioClampedMin: rcMin,
    probsRatioClampedMax: rcMax,
    clipFraction: maskedMean(clipped, mask, Ntok),
    klPenalty,
    tokenMultProbError: m.tokenMultProbError(prev, gen, mask, Ntok),
    genKlError: m.genKlError(prev, gen, mask, cfg.referencePolicyKlType, Ntok),
    policyKlError: m.policyKlError(prev, gen, mask, cfg.referencePolicyKlType, Ntok),
    jsDivergenceError: m.jsDivergenceError(prev, gen, mask, Ntok),
    samplingImportanceRatio: isw.sequenceWeights
      ? maskedMean(isw.sequenceWeights, sampleMask, Nseq)
      : maskedMean(isw.weights, mask, Ntok),
    isRatioMean: raw.mean,
    isRatioMin: raw.min,
    isRatioMax: raw.max,
    numValidSamples: sum(sampleMask),
    approxEntropy: m.approxEntropy(curr, gen, mask, Ntok),
  };
  if (isw.isOobRatio !== null) metrics.isOobRatio = isw.isOobRatio;
  if (input.entropy) metrics.entropy = m.meanEntropy(input.entropy, mask, Ntok);
  return { loss, dCurrLogprobs: d, metrics };
}
