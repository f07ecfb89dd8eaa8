/**
 * Messages between the embedded engine's client (embedded-engine.ts, the caller's thread) and its
 * host (host.ts, a worker thread or the same thread). Plain structured-clone data; a Float32Array
 * on a SharedArrayBuffer crosses without a copy, any other one is copied.
 */
import type { ModelConfig } from "../model/config.ts";
import type { SchedulerStats } from "./scheduler.ts";
import type { GenerateRequest, GenerateResult, GeneratedToken } from "./types.ts";

export type KernelPreference = "native" | "reference" | "auto";

export type ModelSource =
  /** A config with parameters (shared when SharedArrayBuffer-backed) or a seeded random init. */
  | { kind: "config"; config: ModelConfig; params?: Float32Array; seed?: number }
  | { kind: "checkpoint"; dir: string };

export interface EngineInit {
  model: ModelSource;
  kernels: KernelPreference;
  slots: number;
  /** Default: the model's max_position_embeddings. */
  maxModelLen?: number;
  maxBatchTokens?: number;
  eosTokenIds?: readonly number[];
  policyVersion?: number;
  /** Default true. */
  prefixCaching?: boolean;
}

/** What the host does between two steps for an update. */
export type UpdateOp =
  | { kind: "pause" } // post "paused", wait for "resume", then bump
  | { kind: "bump" }
  | { kind: "swap"; params: Float32Array }
  | { kind: "copy"; params: Float32Array }
  | { kind: "checkpoint"; dir: string };

export type ToHost =
  | { type: "generate"; id: number; request: GenerateRequest }
  | { type: "cancel"; id: number }
  | { type: "update"; id: number; op: UpdateOp }
  | { type: "resume"; id: number; bump: boolean }
  | { type: "close" };

export type FromHost =
  | { type: "ready"; maxModelLen: number; policyVersion: number; kernels: string }
  | { type: "init-error"; message: string }
  /** One step's events: tokens first, then finished requests; the scheduler's counters after it. */
  | { type: "step"; tokens: [number, GeneratedToken][]; done: [number, GenerateResult][]; stats: SchedulerStats }
  | { type: "rejected"; id: number; message: string }
  | { type: "paused"; id: number }
  | { type: "updated"; id: number; version: number }
  | { type: "update-error"; id: number; message: string }
  | { type: "fatal"; message: string }
  | { type: "closed" };

/** The side of a MessagePort (or a worker's parentPort) a host or client uses. */
export interface Port<In, Out> {
  postMessage(msg: Out): void;
  on(event: "message", listener: (msg: In) => void): unknown;
}
