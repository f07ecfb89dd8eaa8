import { describe, expect, test } from "vitest";
import { grpoStepSeconds, measuredValidation } from "./demo-report.ts";
import type { MetricsLine } from "./metrics-log.ts";

const G = { val_at_start: true, val_at_end: true, val_period: 10 };

describe("the demo's measured figures", () => {
  test("before is step 0's validation, after the last step's", () => {
    const lines: MetricsLine[] = [{ step: 0, "validation/accuracy": 0.4 }, { step: 1, "timing/train/total_step_time": 2 }, { step: 2, "validation/accuracy": 0.6, "timing/train/total_step_time": 3.5 }];
    expect(measuredValidation(lines, 2, G)).toEqual({ before: 0.4, after: 0.6, notMeasured: {} });
    expect(grpoStepSeconds(lines)).toBe(5.5);
  });

  test("val_at_start=false: before is null with the reason, not a later step's figure", () => {
    const lines: MetricsLine[] = [{ step: 1, "timing/train/total_step_time": 2 }, { step: 10, "validation/accuracy": 0.7 }];
    const m = measuredValidation(lines, 10, { ...G, val_at_start: false });
    expect(m.before).toBeNull();
    expect(m.after).toBe(0.7);
    expect(m.notMeasured.val_accuracy_before).toMatch(/grpo\.val_at_start=false/);
  });

  test("no validation at the last step: after is null (not an earlier step's); no steps: nothing after", () => {
    const lines: MetricsLine[] = [0, 3, 6, 9].map((step) => ({ step, "validation/accuracy": step / 10 }));
    const m = measuredValidation(lines, 10, { val_at_start: true, val_at_end: false, val_period: 3 });
    expect(m).toMatchObject({ before: 0, after: null });
    expect(m.notMeasured.val_accuracy_after).toMatch(/val_at_end=false and step 10 is not a multiple of grpo\.val_period \(3\)/);
    expect(measuredValidation(lines.slice(0, 1), 0, G)).toEqual({ before: 0, after: null, notMeasured: { val_accuracy_after: "no GRPO step ran" } });
    expect(grpoStepSeconds([{ step: 0, "timing/train/total_step_time": 9 }])).toBe(0); // step 0 is validation only
  });
});
