/**
 * @module engine/remote: generation on remote servers behind the `GenerationEngine` seam — one
 * client per dialect (vLLM `/v1/completions` with token-id prompts; SGLang `/generate` with
 * `input_ids`), each server's documented pause / weight-update / resume calls, and a pool of
 * replicas with sticky and least-loaded routing, retries and policy versions on every sample.
 */
export { RemoteEngineError, type RemoteErrorKind } from "./errors.ts";
export { createRemoteEnginePool, RemoteEnginePool, type RemoteEnginePoolOptions, type ReplicaStats } from "./pool.ts";
export type { Dialect, ReplicaClient, ReplicaGeneration, ReplicaGenerateOptions } from "./replica.ts";
export { normalizeBaseUrl } from "./replica.ts";
export { SglangClient, type SglangClientOptions } from "./sglang-client.ts";
export { VllmClient, type VllmClientOptions } from "./vllm-client.ts";
export { startLocalReplicas, type LocalReplica, type LocalReplicaOptions, type LocalReplicas } from "./local-replicas.ts";
export { startRemoteEngine, type RemoteEngineSpec, type RunningRemoteEngine } from "./start.ts";
