/**
 * dLoss/dCurrLogprobs against central finite differences of the loss, in float64, for every loss
 * configuration. Each sg(curr) in the loss stays at the unperturbed values (currLogprobsDetached),
 * which is what autograd differentiates.
 */
import { describe, expect, test } from "vitest";
import { clippedPgLoss, type PgLossInput } from "./loss.ts";
import type { ClippedPgLossConfig } from "./defaults.ts";

/** mulberry32: a small seeded generator so every run sees the same batch. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 3 sequences (lengths 5, 7, 4), the first 2 tokens of each context; logprobs near each other so ratios straddle the clip range. */
function randomBatch(seed: number): PgLossInput {
  const u = rng(seed);
  const lens = [5, 7, 4];
  const seqOffsets = [0];
  for (const l of lens) seqOffsets.push(seqOffsets[seqOffsets.length - 1] + l);
  const N = seqOffsets[3];
  const tokenMask = new Float64Array(N);
  const curr = new Float64Array(N);
  const prev = new Float64Array(N);
  const gen = new Float64Array(N);
  const ref = new Float64Array(N);
  const adv = new Float64Array(N);
  for (let s = 0; s < 3; s++) {
    const a = u() * 4 - 2;
    for (let t = seqOffsets[s]; t < seqOffsets[s + 1]; t++) {
      if (t - seqOffsets[s] < 2) continue;
      tokenMask[t] = 1;
      curr[t] = -0.2 - 2 * u();
      prev[t] = curr[t] + (u() - 0.5) * 0.8;
      gen[t] = prev[t] + (u() - 0.5) * 0.6;
      ref[t] = curr[t] + (u() - 0.5) * 2;
      adv[t] = a;
    }
  }
  return { seqOffsets, tokenMask, currLogprobs: curr, prevLogprobs: prev, generationLogprobs: gen, refLogprobs: ref, advantages: adv };
}

function finiteDifference(input: PgLossInput, cfg: Partial<ClippedPgLossConfig>, t: number, h = 1e-6): number {
  const at = (delta: number): number => {
    const curr = Float64Array.from(input.currLogprobs);
    curr[t] += delta;
    return clippedPgLoss({ ...input, currLogprobs: curr, currLogprobsDetached: input.currLogprobs }, cfg).loss;
  };
  return (at(h) - at(-h)) / (2 * h);
}

const IS_ON = { useImportanceSamplingCorrection: true } as const;
const configs: [string, Partial<ClippedPgLossConfig>][] = [
  ["token-level, no KL", { referencePolicyKlPenalty: 0 }],
  ["sequence-level, no KL", { referencePolicyKlPenalty: 0, tokenLevelLoss: false }],
  ["token-level, KL k1", { referencePolicyKlPenalty: 0.2, referencePolicyKlType: "k1" }],
  ["token-level, KL k2", { referencePolicyKlPenalty: 0.2, referencePolicyKlType: "k2" }],
  ["token-level, KL k3", { referencePolicyKlPenalty: 0.2, referencePolicyKlType: "k3" }],
  ["sequence-level, KL k3", { referencePolicyKlPenalty: 0.2, tokenLevelLoss: false }],
  ["KL k3, on-policy KL approximation", { referencePolicyKlPenalty: 0.2, useOnPolicyKlApproximation: true }],
  ["KL k2, tight clamps (some tokens clamped)", { referencePolicyKlPenalty: 0.5, referencePolicyKlType: "k2", klInputClampValue: 0.5, klOutputClampValue: 0.05 }],
  ["KL k3, input clamp only (weight detached where clamped)", { referencePolicyKlPenalty: 0.5, klInputClampValue: 0.5, klOutputClampValue: null }],
  ["KL k1 on-policy, input clamp only", { referencePolicyKlPenalty: 0.5, referencePolicyKlType: "k1", useOnPolicyKlApproximation: true, klInputClampValue: 0.5, klOutputClampValue: null }],
  ["KL k3 on-policy, tight clamps", { referencePolicyKlPenalty: 0.5, useOnPolicyKlApproximation: true, klInputClampValue: 0.5, klOutputClampValue: 0.1 }],
  ["IS correction, untruncated", { referencePolicyKlPenalty: 0, ...IS_ON }],
  ["IS correction, tis", { referencePolicyKlPenalty: 0.1, ...IS_ON, truncatedImportanceSamplingType: "tis", truncatedImportanceSamplingRatio: 1.1 }],
  ["IS correction, icepop", { referencePolicyKlPenalty: 0, ...IS_ON, truncatedImportanceSamplingType: "icepop", truncatedImportanceSamplingRatio: 1.15, truncatedImportanceSamplingRatioMin: 0.9 }],
  [
    "IS correction, seq-mask-tis, sequence-level",
    { referencePolicyKlPenalty: 0, tokenLevelLoss: false, ...IS_ON, truncatedImportanceSamplingType: "seq-mask-tis", truncatedImportanceSamplingRatio: 1.05, truncatedImportanceSamplingRatioMin: 0.95 },
  ],
  ["dual clip c=1.25", { referencePolicyKlPenalty: 0, ratioClipC: 1.25 }],
  ["asymmetric clip 0.1 / 0.28", { referencePolicyKlPenalty: 0, ratioClipMin: 0.1, ratioClipMax: 0.28 }],
  ["GSPO with IS correction", { referencePolicyKlPenalty: 0, sequenceLevelImportanceRatios: true, tokenLevelLoss: false, ratioClipMin: 0.05, ratioClipMax: 0.05, ...IS_ON }],
  ["force on-policy ratio + KL", { referencePolicyKlPenalty: 0.2, forceOnPolicyRatio: true }],
  ["REINFORCE (disable ppo ratio)", { referencePolicyKlPenalty: 0, disablePpoRatio: true }],
  ["CISPO + IS correction", { referencePolicyKlPenalty: 0, useCispo: true, ...IS_ON }],
];

describe("dLoss/dCurrLogprobs matches central finite differences", () => {
  test.each(configs)("%s", (_name, cfg) => {
    for (const seed of [1, 2]) {
      const input = randomBatch(seed);
      const out = clippedPgLoss(input, cfg);
      expect(Number.isFinite(out.loss)).toBe(true);
      let nonZero = 0;
      for (let t = 0; t < out.dCurrLogprobs.length; t++) {
        const fd = finiteDifference(input, cfg, t);
        expect(out.dCurrLogprobs[t], `seed ${seed} token ${t}`).toBeCloseTo(fd, 6);
        if (Math.abs(out.dCurrLogprobs[t]) > 1e-9) nonZero++;
      }
      expect(nonZero, "the check must see some gradient").toBeGreaterThan(0);
    }
  });

  test("the checker can fail: dropping the KL score-function term is caught", () => {
    const input = randomBatch(3);
    const cfg = { referencePolicyKlPenalty: 0.2 };
    const out = clippedPgLoss(input, cfg);
    // Without currLogprobsDetached the weight exp(curr - sg(curr)) is constant 1 under perturbation, so
    // a naive finite difference misses the score term that the analytic gradient (rightly) has.
    const naive = (t: number): number => {
      const f = (dx: number): number => {
        const c = Float64Array.from(input.currLogprobs);
        c[t] += dx;
        return clippedPgLoss({ ...input, currLogprobs: c }, cfg).loss;
      };
      return (f(1e-6) - f(-1e-6)) / 2e-6;
    };
    const t = 2;
    expect(Math.abs(out.dCurrLogprobs[t] - naive(t))).toBeGreaterThan(1e-4);
  });
});
