/**
 * SFT drives held-out loss down on a small synthetic corpus within seconds (reference kernels),
 * and the loss mask and the learning-rate schedule behave as documented.
 */
import { describe, expect, test } from "vitest";
import { referenceKernels } from "../tensor/reference.ts";
import type { ModelConfig } from "./config.ts";
import { Model } from "./model.ts";
import { AdamW, learningRate } from "./optimizer.ts";
import { Rng } from "./rng.ts";
import { type SftExample, evalLoss, packExamples, trainSft } from "./sft.ts";
import { buildVocabMap } from "./vocab.ts";

/** Arithmetic progressions mod 10: [BOS, step, x0, x0+step, ...]; loss on the progression after x0. */
function corpus(n: number, seed: number): SftExample[] {
  const rng = new Rng(seed);
  const BOS = 151644; // tokenizer ids need not be small: the compact vocab maps them
  const digit = (d: number) => 15 + d; // Qwen3 ids of "0".."9"
  const out: SftExample[] = [];
  for (let i = 0; i < n; i++) {
    const step = 1 + rng.int(3);
    let x = rng.int(10);
    const tokens = [BOS, digit(step), digit(x)];
    const mask = [false, false, false];
    for (let t = 0; t < 8; t++) {
      x = (x + step) % 10;
      tokens.push(digit(x));
      mask.push(true);
    }
    out.push({ tokens, mask });
  }
  return out;
}

describe("sft", () => {
  test("held-out loss goes down on a synthetic corpus", () => {
    const train = corpus(400, 1);
    const heldOut = corpus(50, 2);
    const vocab = buildVocabMap(train.flatMap((e) => e.tokens));
    const cfg: ModelConfig = {
      model_type: "qwen3",
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 8,
      rms_norm_eps: 1e-6,
      rope_theta: 10000,
      vocab_size: vocab.length + 1,
      tie_word_embeddings: true,
      max_position_embeddings: 32,
      gymrl_vocab_map: vocab,
    };
    const model = new Model(cfg, { kernels: referenceKernels, seed: 0 });
    const before = evalLoss(model, heldOut, 512);
    expect(before).toBeGreaterThan(2); // ≈ ln(12)
    const opt = new AdamW(model, { weightDecay: 0.01 });
    const seen: number[] = [];
    const hyper = {
      lr: 1e-2,
      warmupSteps: 5,
      totalSteps: 40,
      schedule: "cosine" as const,
      minLrRatio: 0.1,
      batchTokens: 512,
      seed: 0,
      adamw: {},
      evalEvery: 20,
    };
    const t0 = performance.now();
    const last = trainSft(model, train, heldOut, hyper, {
      optimizer: opt,
      onStep: (m) => seen.push(m.step),
    });
    const seconds = (performance.now() - t0) / 1000;
    expect(seen.length).toBe(40);
    expect(last.eval_loss).toBeDefined();
    // the next value is determined by (step, previous): the model should get well below chance
    expect(last.eval_loss!).toBeLessThan(0.3 * before);
    expect(seconds).toBeLessThan(30);
  });

  test("a resumed run continues the batch stream (3 + 3 steps = 6 steps); maxSeconds stops after the step that reaches it", () => {
    const train = corpus(60, 3);
    const vocab = buildVocabMap(train.flatMap((e) => e.tokens));
    const cfg: ModelConfig = {
      model_type: "qwen3",
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 8,
      rms_norm_eps: 1e-6,
      rope_theta: 10000,
      vocab_size: vocab.length + 1,
      tie_word_embeddings: true,
      max_position_embeddings: 32,
      gymrl_vocab_map: vocab,
    };
    // constant lr: the schedule does not depend on totalSteps, so a 3-step run is a 6-step run's prefix
    const hyper = (totalSteps: number) => ({ lr: 1e-2, warmupSteps: 0, totalSteps, schedule: "constant" as const, minLrRatio: 1, batchTokens: 64, seed: 4, adamw: {}, evalEvery: 0 });
    const whole = new Model(cfg, { kernels: referenceKernels, seed: 0 });
    trainSft(whole, train, [], hyper(6), { optimizer: new AdamW(whole) });
    const split = new Model(cfg, { kernels: referenceKernels, seed: 0 });
    const opt = new AdamW(split);
    trainSft(split, train, [], hyper(3), { optimizer: opt });
    const steps: number[] = [];
    trainSft(split, train, [], hyper(6), { optimizer: opt, startStep: 3, onStep: (m) => steps.push(m.step) });
    expect(steps).toEqual([4, 5, 6]);
    expect(Array.from(split.params.flat)).toEqual(Array.from(whole.params.flat));

    const timed: number[] = [];
    const last = trainSft(split, train, corpus(5, 9), hyper(100), { optimizer: opt, startStep: 6, maxSeconds: 0, onStep: (m) => timed.push(m.step) });
    expect(timed).toEqual([7]);
    expect(last.eval_loss).toBeTypeOf("number"); // the last step of a timed run is evaluated like any last step
  });

  test("packExamples: only masked tokens are targets, sequences do not leak", () => {
    const b = packExamples(
      [
        { tokens: [1, 2, 3], mask: [false, true, true] },
        { tokens: [4, 5], mask: [false, false] },
      ],
      16,
    );
    expect(Array.from(b.targets)).toEqual([2, 3, -1, -1, -1]);
    expect(Array.from(b.cuSeqlens)).toEqual([0, 3, 5]);
  });

  test("learning-rate schedule: warm-up, then constant or cosine to the floor", () => {
    const s = { lr: 1, warmupSteps: 4, totalSteps: 14, schedule: "cosine" as const, minLrRatio: 0.1 };
    expect(learningRate(0, s)).toBeCloseTo(0.25);
    expect(learningRate(3, s)).toBeCloseTo(1);
    expect(learningRate(4, s)).toBeCloseTo(1);
    expect(learningRate(9, s)).toBeCloseTo(0.55);
    expect(learningRate(14, s)).toBeCloseTo(0.1);
    expect(learningRate(100, { ...s, schedule: "constant" })).toBe(1);
  });

  test("warmup-stable-decay: peak lr until the last decaySteps, then cosine to the floor", () => {
    const s = { lr: 1, warmupSteps: 2, totalSteps: 20, schedule: "cosine" as const, minLrRatio: 0.1, decaySteps: 10 };
    expect(learningRate(0, s)).toBeCloseTo(0.5);
    expect(learningRate(9, s)).toBe(1);
    expect(learningRate(10, s)).toBeCloseTo(1);
    expect(learningRate(15, s)).toBeCloseTo(0.55); // halfway through the decay
    expect(learningRate(20, s)).toBeCloseTo(0.1);
    // a decay longer than the run decays right after the warm-up, as plain cosine does
    expect(learningRate(7, { ...s, decaySteps: 100 })).toBeCloseTo(learningRate(7, { ...s, decaySteps: 0 }));
  });
});
