/**
 * What collecting one rollout ends in: a result with its token trajectory, or a failure record
 * (row, error class, message). Every rollout sent ends in exactly one outcome, so a batch can be
 * counted: nothing lost, nothing twice. Types only; run-rollout.ts produces them.
 */
import type { TrajectoryConversion } from "./trajectory.ts";
import type { Row } from "./rows.ts";

/**
 * Why a rollout failed, after retries:
 *  - timeout: the per-rollout deadline passed (not retried: the time is spent);
 *  - connection: the agent could not be reached (refused, reset) on every attempt;
 *  - server_error: the agent answered 5xx / 429 on every attempt (an inner server died or stalled);
 *  - client_error: the agent answered 4xx: the row is bad, retrying cannot help;
 *  - invalid_result: a 2xx whose body is not a verify response (no finite reward);
 *  - trajectory: the result's token fields could not become a trajectory (TrajectoryError);
 *  - config: the row names an agent that is not configured;
 *  - aborted: the caller stopped the collection first;
 *  - internal: an unexpected error in the collector itself (a bug: not retried);
 *  - any class an environment reports itself in `_ng_failure_class` (e.g. judge_failed).
 */
export type FailureClass =
  | "timeout"
  | "connection"
  | "server_error"
  | "client_error"
  | "invalid_result"
  | "trajectory"
  | "config"
  | "aborted"
  | "internal"
  | (string & {});

export interface RolloutTiming {
  /** ms from the start of the collection until this rollout was sent. */
  queuedMs: number;
  /** ms from sending to the outcome, retries and backoff included. */
  runMs: number;
  /** /run attempts made (1 = no retry). */
  attempts: number;
}

interface OutcomeBase {
  taskIndex: number;
  rolloutIndex: number;
  agent: string;
  /** the row as sent to /run. */
  row: Row;
  timing: RolloutTiming;
}

export interface RolloutSuccess extends OutcomeBase {
  kind: "ok";
  /** the verify response, re-stamped with _ng_task_index, _ng_rollout_index and agent_ref. */
  result: Row;
  conversion: TrajectoryConversion;
}

export interface RolloutFailure extends OutcomeBase {
  kind: "failed";
  errorClass: FailureClass;
  message: string;
  /** HTTP status of the last attempt, when there was an answer. */
  status?: number;
}

export type RolloutOutcome = RolloutSuccess | RolloutFailure;
