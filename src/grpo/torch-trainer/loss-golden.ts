/**
 * Golden cases for the PyTorch worker's loss: inputs, loss and dLoss/dcurrLogprobs from
 * src/grpo/loss.ts for every loss option, written to python/tests/loss_golden.json. The Python tests
 * check gymrl_torch/loss.py (value and autograd gradient) against the file; loss-golden.test.ts
 * regenerates the cases and fails when loss.ts no longer produces the stored numbers, so neither
 * implementation drifts alone. Regenerate after a deliberate change to loss.ts:
 *
 *   node --import tsx src/grpo/torch-trainer/loss-golden.ts
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Rng } from "../../model/rng.ts";
import { CLIPPED_PG_LOSS_DEFAULTS, type ClippedPgLossConfig } from "../defaults.ts";
import { clippedPgLoss, type PgLossInput } from "../loss.ts";
import { lossConfigToWire } from "./wire.ts";

export const GOLDEN_PATH = fileURLToPath(new URL("../../../python/tests/loss_golden.json", import.meta.url));

export interface GoldenCase {
  name: string;
  /** every option, NeMo RL names */
  config: Record<string, unknown>;
  input: {
    seq_offsets: number[];
    token_mask: number[];
    sample_mask: number[];
    curr_logprobs: number[];
    prev_logprobs: number[];
    generation_logprobs: number[];
    reference_logprobs: number[];
    advantages: number[];
    global_valid_toks?: number;
    global_valid_seqs?: number;
  };
  loss: number;
  d_curr_logprobs: number[];
}

/** A packed batch shaped like GRPO's: prompt tokens unmasked, generated tokens masked in, one advantage per sequence. */
function batch(seed: number, lens: number[], promptLens: number[]): GoldenCase["input"] {
  const rng = new Rng(seed);
  const off = [0];
  for (const l of lens) off.push(off[off.length - 1] + l);
  const N = off[off.length - 1];
  const tm: number[] = [];
  const adv: number[] = [];
  lens.forEach((l, s) => {
    const a = (rng.uniform() < 0.5 ? -1 : 1) * (0.2 + 1.3 * rng.uniform());
    for (let t = 0; t < l; t++) {
      const gen = t >= promptLens[s];
      tm.push(gen ? 1 : 0);
      adv.push(gen ? a : 0);
    }
  });
  const curr: number[] = [];
  const prev: number[] = [];
  const gen: number[] = [];
  const ref: number[] = [];
  for (let t = 0; t < N; t++) {
    const c = -(0.05 + 2.5 * rng.uniform());
    const p = c + 0.25 * rng.normal(); // ratios on both sides of a 0.2 clip
    curr.push(c);
    prev.push(p);
    gen.push(tm[t] ? p + 0.1 * rng.normal() : 0); // the sampler reports 0 off its tokens
    ref.push(c + 0.5 * rng.normal());
  }
  return {
    seq_offsets: off,
    token_mask: tm,
    sample_mask: lens.map(() => 1),
    curr_logprobs: curr,
    prev_logprobs: prev,
    generation_logprobs: gen,
    reference_logprobs: ref,
    advantages: adv,
  };
}

const IS = { useImportanceSamplingCorrection: true } as const;
const GSPO = { sequenceLevelImportanceRatios: true, tokenLevelLoss: false } as const;

/** [name, options, input tweak] — one entry per option and the combinations NeMo RL recipes use. */
const CASES: [string, Partial<ClippedPgLossConfig>, ((x: GoldenCase["input"]) => void)?][] = [
  ["defaults", {}],
  ["no_kl", { referencePolicyKlPenalty: 0 }],
  ["sequence_level_loss", { tokenLevelLoss: false }],
  ["asymmetric_clip", { ratioClipMin: 0.1, ratioClipMax: 0.28 }],
  ["dual_clip", { ratioClipC: 1.1 }],
  ["reinforce", { disablePpoRatio: true }],
  ["force_on_policy_ratio", { forceOnPolicyRatio: true }],
  ["cispo", { useCispo: true }],
  ["gspo", { ...GSPO }],
  ["gspo_is_correction", { ...GSPO, ...IS }],
  ["gspo_tis", { ...GSPO, ...IS, truncatedImportanceSamplingType: "tis", truncatedImportanceSamplingRatio: 1.2 }],
  ["gspo_icepop", { ...GSPO, ...IS, truncatedImportanceSamplingType: "icepop", truncatedImportanceSamplingRatio: 1.5, truncatedImportanceSamplingRatioMin: 0.7 }],
  ["kl_k1", { referencePolicyKlType: "k1", referencePolicyKlPenalty: 0.1 }],
  ["kl_k2", { referencePolicyKlType: "k2", referencePolicyKlPenalty: 0.1 }],
  ["kl_k3", { referencePolicyKlType: "k3", referencePolicyKlPenalty: 0.1 }],
  ["kl_input_clamp", { referencePolicyKlPenalty: 0.1, klInputClampValue: 0.3 }],
  ["kl_output_clamp", { referencePolicyKlPenalty: 0.1, klOutputClampValue: 0.02 }],
  ["kl_no_clamps", { referencePolicyKlPenalty: 0.1, klInputClampValue: null, klOutputClampValue: null }],
  ["kl_on_policy_approximation", { referencePolicyKlPenalty: 0.1, useOnPolicyKlApproximation: true }],
  ["kl_k2_force_on_policy", { referencePolicyKlType: "k2", referencePolicyKlPenalty: 0.1, forceOnPolicyRatio: true }],
  ["is_correction", { ...IS }],
  ["tis", { ...IS, truncatedImportanceSamplingType: "tis", truncatedImportanceSamplingRatio: 1.05 }],
  ["tis_min", { ...IS, truncatedImportanceSamplingType: "tis", truncatedImportanceSamplingRatio: 1.05, truncatedImportanceSamplingRatioMin: 0.95 }],
  ["icepop", { ...IS, truncatedImportanceSamplingType: "icepop", truncatedImportanceSamplingRatio: 1.05, truncatedImportanceSamplingRatioMin: 0.95 }],
  ["seq_mask_tis", { ...IS, truncatedImportanceSamplingType: "seq-mask-tis", truncatedImportanceSamplingRatio: 1.03, truncatedImportanceSamplingRatioMin: 0.97 }],
  ["sample_mask", {}, (x) => (x.sample_mask[1] = 0)],
  ["fractional_sample_mask", { tokenLevelLoss: false }, (x) => (x.sample_mask[2] = 0.5)],
  ["microbatch_global_counts", {}, (x) => ((x.global_valid_toks = 2 * sumMask(x)), (x.global_valid_seqs = 8))],
  ["microbatch_global_counts_sequence_level", { tokenLevelLoss: false }, (x) => ((x.global_valid_toks = 2 * sumMask(x)), (x.global_valid_seqs = 8))],
  ["dual_clip_is_kl", { ratioClipC: 1.1, ...IS, referencePolicyKlPenalty: 0.05, referencePolicyKlType: "k1" }],
];

function sumMask(x: GoldenCase["input"]): number {
  let n = 0;
  for (let s = 0; s + 1 < x.seq_offsets.length; s++)
    for (let t = x.seq_offsets[s]; t < x.seq_offsets[s + 1]; t++) n += x.token_mask[t] * x.sample_mask[s];
  return n;
}

export function generateLossGoldenCases(): GoldenCase[] {
  return CASES.map(([name, options, tweak], i) => {
    const input = batch(1000 + i, [7, 5, 9, 6], [3, 2, 4, 1]);
    tweak?.(input);
    const pg: PgLossInput = {
      seqOffsets: input.seq_offsets,
      tokenMask: input.token_mask,
      sampleMask: input.sample_mask,
      currLogprobs: input.curr_logprobs,
      prevLogprobs: input.prev_logprobs,
      generationLogprobs: input.generation_logprobs,
      refLogprobs: input.reference_logprobs,
      advantages: input.advantages,
      globalValidToks: input.global_valid_toks,
      globalValidSeqs: input.global_valid_seqs,
    };
    const out = clippedPgLoss(pg, options);
    return {
      name,
      config: lossConfigToWire({ ...CLIPPED_PG_LOSS_DEFAULTS, ...options }),
      input,
      loss: out.loss,
      d_curr_logprobs: Array.from(out.dCurrLogprobs),
    };
  });
}

export function goldenFileText(cases: GoldenCase[]): string {
  const head = "generated by src/grpo/torch-trainer/loss-golden.ts from src/grpo/loss.ts; do not edit";
  return JSON.stringify({ comment: head, cases }, null, 1) + "\n";
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cases = generateLossGoldenCases();
  writeFileSync(GOLDEN_PATH, goldenFileText(cases));
  console.log(`wrote ${cases.length} cases to ${GOLDEN_PATH}`);
}
