/**
 * RoPE frequencies against an independent float64 computation: Meta's reference `apply_scaling`
 * (Llama 3.1 model.py) written out per frequency, which the float32 path must match to float32
 * rounding; and the config's rope_scaling validation.
 */
import { describe, expect, it } from "vitest";
import { dimsOf, parseModelConfig } from "./config.ts";
import { ropeInvFreq, ropeTables, type Llama3RopeScaling } from "./rope.ts";
import { tinyConfig } from "./testing.ts";

const LLAMA31: Llama3RopeScaling = {
  rope_type: "llama3",
  factor: 8,
  low_freq_factor: 1,
  high_freq_factor: 4,
  original_max_position_embeddings: 8192,
};

/** Meta's apply_scaling in float64. */
function referenceScaled(d: number, theta: number, s: Llama3RopeScaling): number[] {
  const out: number[] = [];
  for (let j = 0; j < d / 2; j++) {
    const freq = 1 / theta ** ((2 * j) / d);
    const wavelen = (2 * Math.PI) / freq;
    const lowWave = s.original_max_position_embeddings / s.low_freq_factor;
    const highWave = s.original_max_position_embeddings / s.high_freq_factor;
    if (wavelen < highWave) out.push(freq);
    else if (wavelen > lowWave) out.push(freq / s.factor);
    else {
      const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      out.push(((1 - smooth) * freq) / s.factor + smooth * freq);
    }
  }
  return out;
}

describe("rope", () => {
  it("llama3 scaling matches Meta's reference to float32 rounding, with all three bands present (Llama 3.1 8B: D 128, theta 500000)", () => {
    const got = ropeInvFreq(128, 500000, LLAMA31);
    const want = referenceScaled(128, 500000, LLAMA31);
    const plain = ropeInvFreq(128, 500000, null);
    let kept = 0, slowed = 0, blended = 0;
    for (let j = 0; j < 64; j++) {
      expect(Math.abs(got[j] - want[j]) / want[j]).toBeLessThan(3e-6);
      const ratio = plain[j] / got[j];
      if (Math.abs(ratio - 1) < 1e-6) kept++;
      else if (Math.abs(ratio - 8) < 1e-5) slowed++;
      else {
        expect(ratio).toBeGreaterThan(1);
        expect(ratio).toBeLessThan(8);
        blended++;
      }
    }
    expect([kept > 0, slowed > 0, blended > 0]).toEqual([true, true, true]);
  });

  it("plain RoPE tables are cos/sin of f32(pos · inv_freq)", () => {
    const dm = dimsOf(parseModelConfig(tinyConfig()));
    const [cos, sin] = ropeTables(dm, "float64");
    const half = dm.d / 2;
    for (const [p, j] of [[0, 0], [5, 1], [dm.maxPos - 1, half - 1]]) {
      const inv = 1 / dm.ropeTheta ** ((2 * j) / dm.d);
      expect(cos[p * half + j]).toBeCloseTo(Math.cos(p * inv), 5);
      expect(sin[p * half + j]).toBeCloseTo(Math.sin(p * inv), 5);
    }
  });

  it("config: rope_scaling llama3 (also under the legacy key `type`) feeds the tables; other types are refused by name", () => {
    const dm = dimsOf(parseModelConfig(tinyConfig({ model_type: "llama", rope_scaling: { ...LLAMA31 } })));
    expect(dm.ropeScaling).toEqual(LLAMA31);
    const legacy = { type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    expect(dimsOf(parseModelConfig(tinyConfig({ rope_scaling: legacy }))).ropeScaling).toEqual(LLAMA31);
    expect(dimsOf(parseModelConfig(tinyConfig({ rope_scaling: null }))).ropeScaling).toBeNull();
    expect(() => parseModelConfig(tinyConfig({ rope_scaling: { rope_type: "yarn", factor: 4 } }))).toThrow(/rope_scaling: rope_type "yarn" is not supported/);
    expect(() => parseModelConfig(tinyConfig({ rope_scaling: { rope_type: "llama3", factor: 8 } }))).toThrow(/rope_scaling: .*low_freq_factor/);
  });
});
