/** GRPO algorithm pieces: advantages, the clipped PG loss, IS correction, KL, sampling filters, metrics. No train loop here. */
export * from "./defaults.ts";
export * from "./batch.ts";
export * from "./advantages.ts";
export * from "./kl.ts";
export * from "./importance-sampling.ts";
export * from "./loss.ts";
export * from "./dynamic-sampling.ts";
export * from "./sample-filters.ts";
export * from "./reward-shaping.ts";
export * from "./metrics.ts";
