/**
 * The loss golden file the Python worker's tests read (python/tests/loss_golden.json) must be what
 * src/grpo/loss.ts computes today: regenerate the cases and compare. A failure means loss.ts changed
 * (or the file was edited): regenerate with `node --import tsx src/grpo/torch-trainer/loss-golden.ts`
 * and make python/gymrl_torch/loss.py agree (its tests read the new file).
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { CLIPPED_PG_LOSS_DEFAULTS } from "../defaults.ts";
import { GOLDEN_PATH, generateLossGoldenCases, type GoldenCase } from "./loss-golden.ts";
import { snakeCase } from "./wire.ts";

const stored = (JSON.parse(readFileSync(GOLDEN_PATH, "utf8")) as { cases: GoldenCase[] }).cases;
const fresh = generateLossGoldenCases();

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b));
}

describe("loss golden cases", () => {
  test("the stored file is what loss.ts computes now", () => {
    expect(stored.map((c) => c.name)).toEqual(fresh.map((c) => c.name));
    for (let i = 0; i < fresh.length; i++) {
      const [s, f] = [stored[i], fresh[i]];
      expect(s.config, s.name).toEqual(f.config);
      expect(s.input, s.name).toEqual(f.input);
      expect(close(s.loss, f.loss), `${s.name}: loss ${s.loss} vs ${f.loss}`).toBe(true);
      const bad = f.d_curr_logprobs.findIndex((g, t) => !close(g, s.d_curr_logprobs[t]));
      expect(bad, `${s.name}: dLoss/dcurr[${bad}]`).toBe(-1);
    }
  });

  test("every loss option is exercised by some case with a non-default value", () => {
    const keys = Object.keys(CLIPPED_PG_LOSS_DEFAULTS).map(snakeCase);
    const defaults = Object.fromEntries(Object.entries(CLIPPED_PG_LOSS_DEFAULTS).map(([k, v]) => [snakeCase(k), v]));
    for (const k of keys) expect(fresh.some((c) => c.config[k] !== defaults[k]), k).toBe(true);
    // the truncation flavours and KL estimators each appear
    for (const t of ["tis", "icepop", "seq-mask-tis"]) expect(fresh.some((c) => c.config.truncated_importance_sampling_type === t)).toBe(true);
    for (const k of ["k1", "k2", "k3"]) expect(fresh.some((c) => c.config.reference_policy_kl_type === k && c.config.reference_policy_kl_penalty !== 0)).toBe(true);
  });
});
