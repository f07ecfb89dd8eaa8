/**
 * gymrl's rollout layer, public entry: collect rollouts from Gym agents (bounded, deadlined,
 * retried, grouped by prompt), turn results into token trajectories, and report metrics.
 */
export { collectRollouts, collectAll, RolloutCollection, type CollectOptions, type GymTarget } from "./collect.ts";
export { collectToFiles, type CollectToFilesOptions, type CollectToFilesReport } from "./collect-to-files.ts";
export { GroupAssembler, GroupError, type RolloutGroup } from "./groups.ts";
export { MetricsAccumulator, type CollectionMetrics, type RolloutMetrics } from "./metrics.ts";
export type { FailureClass, RolloutFailure, RolloutOutcome, RolloutSuccess, RolloutTiming } from "./outcome.ts";
export { outputPaths, type OutputPaths } from "./output-files.ts";
export { Progress, type ProgressOptions } from "./progress.ts";
export { missingRequests, readDone } from "./resume.ts";
export { expandRows, rolloutKey, RowError, type ExpandOptions, type RolloutRequest, type Row, type SamplingParams } from "./rows.ts";
export { streamRollouts, type StreamOptions } from "./stream.ts";
export { summarize, type Stats } from "./stats.ts";
export * from "./trajectory.ts";
