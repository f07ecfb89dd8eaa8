/**
 * @module engine: generation behind the `GenerationEngine` seam (types.ts): the embedded engine
 * (continuous batching over a KV cache, exact processed logprobs, weight updates), run in a worker
 * thread or in the caller's thread. Knows nothing of HTTP or chat templates.
 */
export type * from "./types.ts";
export { type EmbeddedEngineOptions, EmbeddedEngine, allocSharedParams, createEmbeddedEngine } from "./embedded-engine.ts";
export type { KernelPreference } from "./protocol.ts";
export { GREEDY_EPS, type Sample, Sampler, isGreedy } from "./sampler.ts";
export { Scheduler, type SchedulerOptions, type SchedulerSink, type SchedulerStats } from "./scheduler.ts";
