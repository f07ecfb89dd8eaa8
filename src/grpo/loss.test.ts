import { describe, expect, test } from "vitest";
import { clippedPgLoss, LossConfigError, type PgLossInput } from "./loss.ts";
import type { ClippedPgLossConfig } from "./defaults.ts";

const NO_KL = { referencePolicyKlPenalty: 0 } as const;

/** One sequence [context, t1, t2, t3]: the first token is context (no logprob), the rest generated. */
function oneSeq(v: { curr: number[]; prev?: number[]; gen?: number[]; ref?: number[]; adv: number[] }): PgLossInput {
  const pad = (a: number[] | undefined, fill = 0): number[] | undefined => (a ? [fill, ...a] : undefined);
  const n = v.curr.length;
  return {
    seqOffsets: [0, n + 1],
    tokenMask: [0, ...Array<number>(n).fill(1)],
    currLogprobs: pad(v.curr)!,
    prevLogprobs: pad(v.prev ?? v.curr),
    generationLogprobs: pad(v.gen ?? v.prev ?? v.curr)!,
    refLogprobs: pad(v.ref),
    advantages: pad(v.adv)!,
  };
}

describe("clippedPgLoss against hand-computed values", () => {
  test("PPO clipping: ratios 0.5, 1, 1.5 with eps 0.2 (NeMo test_clipped_pg_loss_ppo_clipping)", () => {
    const prev = [-1, -1, -1];
    const curr = prev.map((p, i) => p + Math.log([0.5, 1, 1.5][i]));
    const out = clippedPgLoss(oneSeq({ curr, prev, adv: [1, -1, 2] }), NO_KL);
    // max(-A r, -A rc) = [max(-0.5,-0.8), max(1,1), max(-3,-2.4)] = [-0.5, 1, -2.4]
    expect(out.loss).toBeCloseTo(-1.9 / 3, 7);
    // token 1: unclipped branch, d = (1/3)(-A) r; token 2: in range, (1/3)(-A)(1); token 3: clipped, 0.
    expect(Array.from(out.dCurrLogprobs)).toEqual([0, expect.closeTo(-0.5 / 3, 7), expect.closeTo(1 / 3, 7), 0]);
    expect(out.metrics.probsRatio).toBeCloseTo(1, 7);
    expect(out.metrics.probsRatioClamped).toBeCloseTo(1, 7);
    expect(out.metrics.probsRatioMin).toBeCloseTo(0.5, 7);
    expect(out.metrics.probsRatioClampedMax).toBeCloseTo(1.2, 7);
    expect(out.metrics.clipFraction).toBeCloseTo(2 / 3, 7);
  });

  test("KL penalty k3, beta 0.1 (NeMo test_clipped_pg_loss_kl_penalty)", () => {
    const out = clippedPgLoss(
      oneSeq({ curr: [0, -1, -2], prev: [0, 0, 0], ref: [-1, -1, -1], adv: [0, 0, 0] }),
      { referencePolicyKlPenalty: 0.1 },
    );
    // logr = ref - curr = [-1, 0, 1]; k3 = e^logr - 1 - logr = [0.3679, 0, 0.7183]
    const k3 = [Math.exp(-1), 0, Math.exp(1) - 2];
    expect(out.metrics.klPenalty).toBeCloseTo((k3[0] + k3[1] + k3[2]) / 3, 7);
    expect(out.loss).toBeCloseTo((0.1 * (k3[0] + k3[1] + k3[2])) / 3, 7);
  });

  test.each([false, true])("KL gradient includes the score-function term (onPolicyKl=%s)", (useOnPolicyKlApproximation) => {
    // NeMo test_clipped_pg_loss_kl_gradient_includes_sampling_term: grad(β) - grad(0) = β w (kl + 1 - e^logr) / n
    const curr = [-1.2, -0.7];
    const gen = [-1.5, -0.4];
    const ref = [-0.9, -1.1];
    const base = { curr, prev: [-1.0, -0.8], gen, ref, adv: [0.4, -0.2] };
    const withKl = clippedPgLoss(oneSeq(base), { referencePolicyKlPenalty: 0.3, useOnPolicyKlApproximation });
    const noKl = clippedPgLoss(oneSeq(base), { referencePolicyKlPenalty: 0, useOnPolicyKlApproximation });
    for (let i = 0; i < 2; i++) {
      const logr = ref[i] - curr[i];
      const kl = Math.exp(logr) - 1 - logr;
      const w = useOnPolicyKlApproximation ? Math.exp(curr[i] - gen[i]) : 1;
      const expected = (0.3 * w * (kl + 1 - Math.exp(logr))) / 2;
      expect(withKl.dCurrLogprobs[i + 1] - noKl.dCurrLogprobs[i + 1]).toBeCloseTo(expected, 7);
    }
  });

  test("icepop zeroes the token whose IS weight is outside [0.5, 5] (NeMo test_clipped_pg_loss_icepop)", () => {
    const prev = [-1, -1, -1];
    const gen = [-0.5, -3.5, -0.8];
    const out = clippedPgLoss(oneSeq({ curr: prev, prev, gen, adv: [1, -1, 2] }), {
      ...NO_KL,
      useImportanceSamplingCorrection: true,
      truncatedImportanceSamplingType: "icepop",
      truncatedImportanceSamplingRatio: 5,
      truncatedImportanceSamplingRatioMin: 0.5,
    });
    // w = exp(prev - gen) = [0.6065, 12.18 → 0, 0.8187]; on-policy so clip = -A
    expect(out.loss).toBeCloseTo((Math.exp(-0.5) * -1 + 0 + Math.exp(-0.2) * -2) / 3, 7);
    expect(out.metrics.isOobRatio).toBeCloseTo(1 / 3, 7);
    expect(out.metrics.isRatioMax).toBeCloseTo(Math.exp(2.5), 7); // raw, before truncation
    expect(out.metrics.samplingImportanceRatio).toBeCloseTo((Math.exp(-0.5) + Math.exp(-0.2)) / 3, 7);
  });

  test.each([
    [null, [0.1, 1, 2], 1 / 3],
    [0.5, [0.5, 1, 2], 2 / 3],
  ])("tis clamps to [min=%s, 2] (NeMo test_clipped_pg_loss_tis_min_bound_defaults_to_zero)", (min, weights, oob) => {
    const curr = [0.1, 1, 3].map(Math.log);
    const out = clippedPgLoss(
      { ...oneSeq({ curr, gen: [0, 0, 0], adv: [1, 1, 1] }), prevLogprobs: undefined },
      {
        ...NO_KL,
        forceOnPolicyRatio: true,
        useImportanceSamplingCorrection: true,
        truncatedImportanceSamplingType: "tis",
        truncatedImportanceSamplingRatio: 2,
        truncatedImportanceSamplingRatioMin: min,
      },
    );
    expect(out.loss).toBeCloseTo(-(weights[0] + weights[1] + weights[2]) / 3, 7);
    expect(out.metrics.isOobRatio).toBeCloseTo(oob, 7);
  });

  test("seq-mask-tis keeps a sequence with geo-mean ratio in bounds and drops one outside", () => {
    const cfg: Partial<ClippedPgLossConfig> = {
      ...NO_KL,
      useImportanceSamplingCorrection: true,
      truncatedImportanceSamplingType: "seq-mask-tis",
      truncatedImportanceSamplingRatio: 1.002,
      truncatedImportanceSamplingRatioMin: 0.999,
    };
    const prev = [-1, -1, -1];
    const adv = [1, -1, 2];
    const kept = clippedPgLoss(oneSeq({ curr: prev, prev, gen: [-1.0005, -1.0005, -1.0005], adv }), cfg);
    expect(kept.loss).toBeCloseTo((Math.exp(0.0005) * -(1 - 1 + 2)) / 3, 7);
    expect(kept.metrics.isOobRatio).toBeCloseTo(0, 7);
    const dropped = clippedPgLoss(oneSeq({ curr: prev, prev, gen: [-1.01, -1.01, -1.01], adv }), cfg);
    expect(dropped.loss).toBe(0);
    expect(dropped.metrics.isOobRatio).toBeCloseTo(1, 7);
    // a -inf generation logprob is read as a 0 log-difference, never a NaN loss
    const inf = clippedPgLoss(oneSeq({ curr: prev, prev, gen: [-1.0005, -1.0005, -Infinity], adv }), cfg);
    expect(Number.isFinite(inf.loss)).toBe(true);
  });

  test("dual clip caps a negative advantage's loss at -A·c", () => {
    const prev = [-2];
    const curr = [-2 + Math.log(5)]; // ratio 5
    const plain = clippedPgLoss(oneSeq({ curr, prev, adv: [-1] }), NO_KL);
    expect(plain.loss).toBeCloseTo(5, 7); // max(-A·5, -A·1.2)
    expect(plain.dCurrLogprobs[1]).toBeCloseTo(5, 7);
    const dual = clippedPgLoss(oneSeq({ curr, prev, adv: [-1] }), { ...NO_KL, ratioClipC: 3 });
    expect(dual.loss).toBeCloseTo(3, 7);
    expect(dual.dCurrLogprobs[1]).toBe(0);
  });

  test("token-level vs sequence-level aggregation", () => {
    // seq A: 1 valid token, adv 2; seq B: 3 valid tokens, adv 1; on-policy so each token's loss is -A.
    const input: PgLossInput = {
      seqOffsets: [0, 2, 6],
      tokenMask: [0, 1, 0, 1, 1, 1],
      currLogprobs: [0, -1, 0, -1, -2, -0.5],
      prevLogprobs: [0, -1, 0, -1, -2, -0.5],
      generationLogprobs: [0, -1, 0, -1, -2, -0.5],
      advantages: [0, 2, 0, 1, 1, 1],
    };
    expect(clippedPgLoss(input, NO_KL).loss).toBeCloseTo(-(2 + 3) / 4, 7);
    expect(clippedPgLoss(input, { ...NO_KL, tokenLevelLoss: false }).loss).toBeCloseTo(-(2 + 1) / 2, 7);
    // sequence-level: seq A's one token weighs 1/2, each of seq B's 1/6
    const d = clippedPgLoss(input, { ...NO_KL, tokenLevelLoss: false }).dCurrLogprobs;
    expect(d[1]).toBeCloseTo(-2 / 2, 7);
    expect(d[3]).toBeCloseTo(-1 / 6, 7);
    // sampleMask drops seq A entirely
    const masked = clippedPgLoss({ ...input, sampleMask: [0, 1] }, NO_KL);
    expect(masked.loss).toBeCloseTo(-1, 7);
    expect(masked.dCurrLogprobs[1]).toBe(0);
    expect(masked.metrics.numValidSamples).toBe(1);
  });

  test("GSPO: one ratio per sequence, exp of the mean log ratio", () => {
    const out = clippedPgLoss(oneSeq({ curr: [-0.9, -0.7], prev: [-1, -1], adv: [1, 1] }), {
      ...NO_KL,
      sequenceLevelImportanceRatios: true,
      tokenLevelLoss: false,
      ratioClipMin: 0.3,
      ratioClipMax: 0.3,
    });
    const r = Math.exp(0.2);
    expect(out.loss).toBeCloseTo(-r, 7);
    expect(out.dCurrLogprobs[1]).toBeCloseTo(-r / 2, 7);
    expect(out.dCurrLogprobs[2]).toBeCloseTo(-r / 2, 7);
  });

  test("force_on_policy_ratio, REINFORCE and CISPO", () => {
    const curr = [-1, -2];
    const prev = [-1.5, -2];
    const adv = [1, -1];
    const force = clippedPgLoss(oneSeq({ curr, prev, adv }), { ...NO_KL, forceOnPolicyRatio: true });
    expect(force.loss).toBeCloseTo(0, 7); // -(1 - 1)/2
    expect(Array.from(force.dCurrLogprobs.slice(1))).toEqual([expect.closeTo(-0.5, 7), expect.closeTo(0.5, 7)]);
    const reinforce = clippedPgLoss(oneSeq({ curr, prev, adv }), { ...NO_KL, disablePpoRatio: true });
    expect(reinforce.loss).toBeCloseTo(-(1 * -1 + -1 * -2) / 2, 7);
    expect(reinforce.dCurrLogprobs[1]).toBeCloseTo(-0.5, 7);
    const cispo = clippedPgLoss(oneSeq({ curr, prev, adv }), { ...NO_KL, useCispo: true });
    // token 1: ratio e^0.5 = 1.65 → sg(clamp) = 1.2; token 2: ratio 1
    expect(cispo.loss).toBeCloseTo((-1 * 1.2 * -1 + 1 * 1 * -2) / 2, 7);
    expect(cispo.dCurrLogprobs[1]).toBeCloseTo(-1.2 / 2, 7);
  });

  test("an all-masked batch gives loss 0 and a zero gradient, no NaN", () => {
    const out = clippedPgLoss(
      { seqOffsets: [0, 2], tokenMask: [0, 0], currLogprobs: [0, -Infinity], prevLogprobs: [0, 0], generationLogprobs: [0, 0], refLogprobs: [0, 0], advantages: [0, 1] },
      {},
    );
    expect(out.loss).toBe(0);
    expect(Array.from(out.dCurrLogprobs)).toEqual([0, 0]);
    expect(Number.isNaN(out.metrics.tokenMultProbError)).toBe(false);
  });

  test("global token count makes microbatch losses add up to the batch loss", () => {
    const full: PgLossInput = {
      seqOffsets: [0, 3, 6],
      tokenMask: [0, 1, 1, 0, 1, 1],
      currLogprobs: [0, -1, -0.8, 0, -2, -0.4],
      prevLogprobs: [0, -1.1, -0.7, 0, -1.9, -0.5],
      generationLogprobs: [0, -1.2, -0.7, 0, -1.8, -0.5],
      advantages: [0, 0.5, 0.5, 0, -1, -1],
    };
    const whole = clippedPgLoss(full, NO_KL).loss;
    const half = (s: number): PgLossInput => ({
      seqOffsets: [0, 3],
      tokenMask: (full.tokenMask as number[]).slice(3 * s, 3 * s + 3),
      currLogprobs: (full.currLogprobs as number[]).slice(3 * s, 3 * s + 3),
      prevLogprobs: (full.prevLogprobs as number[]).slice(3 * s, 3 * s + 3),
      generationLogprobs: (full.generationLogprobs as number[]).slice(3 * s, 3 * s + 3),
      advantages: (full.advantages as number[]).slice(3 * s, 3 * s + 3),
      globalValidToks: 4,
      globalValidSeqs: 2,
    });
    expect(clippedPgLoss(half(0), NO_KL).loss + clippedPgLoss(half(1), NO_KL).loss).toBeCloseTo(whole, 12);
  });

  test("rejects the configurations NeMo RL's constructor rejects", () => {
    const input = oneSeq({ curr: [-1], adv: [1] });
    expect(() => clippedPgLoss(input, { sequenceLevelImportanceRatios: true })).toThrow(LossConfigError);
    expect(() => clippedPgLoss(input, { truncatedImportanceSamplingType: "tis", truncatedImportanceSamplingRatio: 2 })).toThrow(/useImportanceSamplingCorrection/);
    expect(() =>
      clippedPgLoss(input, { useImportanceSamplingCorrection: true, truncatedImportanceSamplingType: "icepop", truncatedImportanceSamplingRatio: 2 }),
    ).toThrow(/RatioMin/);
    expect(() =>
      clippedPgLoss(input, {
        useImportanceSamplingCorrection: true,
        truncatedImportanceSamplingType: "tis",
        truncatedImportanceSamplingRatio: 1,
        truncatedImportanceSamplingRatioMin: 2,
      }),
    ).toThrow(/<=/);
    expect(() => clippedPgLoss(input, { useCispo: true, ratioClipC: 3 })).toThrow(LossConfigError);
    expect(() => clippedPgLoss(input, { ratioClipC: 0.5 })).toThrow(/exceed 1/);
    expect(() => clippedPgLoss({ ...input, refLogprobs: undefined }, { referencePolicyKlPenalty: 0.1 })).toThrow(/refLogprobs/);
  });
});
