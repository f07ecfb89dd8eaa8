/**
 * What the demo's final JSON may claim, read from the GRPO run's metrics.jsonl lines: "before" is
 * the step-0 validation (the warm-start model) and nothing else, "after" is the validation at the
 * last step run; a figure that was not measured is null with the reason beside it, never another
 * step's number. Also GRPO's training time, the budget of the SFT control.
 */
import type { MetricsLine } from "./metrics-log.ts";

export interface ValidationSettings {
  val_at_start: boolean;
  val_at_end: boolean;
  val_period: number;
}

export interface MeasuredValidation {
  before: number | null;
  after: number | null;
  /** field → why it is null (only for null fields) */
  notMeasured: Record<string, string>;
}

const accuracyAt = (lines: MetricsLine[], step: number): number | null => {
  const v = lines.find((l) => l.step === step && typeof l["validation/accuracy"] === "number")?.["validation/accuracy"];
  return typeof v === "number" ? v : null;
};

export function measuredValidation(lines: MetricsLine[], steps: number, g: ValidationSettings): MeasuredValidation {
  const notMeasured: Record<string, string> = {};
  const before = accuracyAt(lines, 0);
  if (before === null)
    notMeasured.val_accuracy_before = g.val_at_start
      ? "no step-0 validation in metrics.jsonl (no validation rows?)"
      : "grpo.val_at_start=false: the warm-start model was not validated before the first GRPO step";
  const after = steps > 0 ? accuracyAt(lines, steps) : null;
  if (after === null)
    notMeasured.val_accuracy_after =
      steps === 0
        ? "no GRPO step ran"
        : g.val_at_end || (g.val_period > 0 && steps % g.val_period === 0)
          ? `no validation at step ${steps} in metrics.jsonl (no validation rows?)`
          : `grpo.val_at_end=false and step ${steps} is not a multiple of grpo.val_period (${g.val_period}): the final policy was not validated`;
  return { before, after, notMeasured };
}

/**
 * Seconds GRPO spent in its steps (generation, logprobs, training, refit), without validation,
 * checkpoints or starting the servers: the wall time the SFT control gets.
 */
export function grpoStepSeconds(lines: MetricsLine[]): number {
  let s = 0;
  for (const l of lines) {
    const t = l["timing/train/total_step_time"];
    if (typeof l.step === "number" && l.step > 0 && typeof t === "number") s += t;
  }
  return s;
}
