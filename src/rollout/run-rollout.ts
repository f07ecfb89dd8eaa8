/**
 * One rollout: `POST /run` to its agent under a per-rollout deadline, with bounded retries and
 * backoff for infrastructure errors (unreachable agent, 5xx, 429), then the result → trajectory.
 * Always returns an outcome, never throws, so one bad rollout cannot end a batch (NeMo Gym's
 * collector raises on the first non-2xx and retries connection errors forever).
 *
 * The deadline covers every attempt and backoff: a stalled policy cannot hold a rollout past it.
 * Retries happen here and only here (the client's own retries are off), so `attempts` is exact.
 */
import type { GymClient } from "../gym/client.ts";
import { GymClientError, GymConnectionError } from "../gym/errors.ts";
import type { FailureClass, RolloutOutcome } from "./outcome.ts";
import type { RolloutRequest, Row } from "./rows.ts";
import type { Slots } from "./slots.ts";
import { gymResultToSamples, TrajectoryError, type TrajectoryOptions } from "./trajectory.ts";

export interface RunPolicy {
  /** whole-rollout deadline in ms, attempts and backoff included. */
  deadlineMs: number;
  /** attempts after the first, for retryable failures. */
  retries: number;
  /** first backoff in ms, doubled per retry up to maxBackoffMs, minus up to 25 % jitter. */
  backoffMs: number;
  maxBackoffMs: number;
  trajectory: TrajectoryOptions;
}

/** Aborted by the caller (stop the batch) or by the deadline; `reason` tells which. */
const DEADLINE = Symbol("deadline");

export async function runRollout(client: GymClient, req: RolloutRequest, policy: RunPolicy, queuedMs: number, stop: AbortSignal, slots?: Slots): Promise<RolloutOutcome> {
  const started = performance.now();
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(DEADLINE), policy.deadlineMs);
  const onStop = () => ctl.abort(stop.reason);
  stop.addEventListener("abort", onStop, { once: true });
  let attempts = 0;

  const base = { taskIndex: req.taskIndex, rolloutIndex: req.rolloutIndex, agent: req.agent, row: req.row };
  const timing = () => ({ queuedMs, runMs: performance.now() - started, attempts });
  const fail = (errorClass: FailureClass, message: string, status?: number): RolloutOutcome => ({
    kind: "failed",
    ...base,
    errorClass,
    message,
    ...(status !== undefined ? { status } : {}),
    timing: timing(),
  });
  const interrupted = (): RolloutOutcome | undefined => {
    if (!ctl.signal.aborted) return undefined;
    return ctl.signal.reason === DEADLINE ? fail("timeout", `no result within the ${policy.deadlineMs} ms rollout deadline (${attempts} attempt(s))`) : fail("aborted", "collection stopped");
  };

  try {
    if (stop.aborted) return fail("aborted", "collection stopped before this rollout was sent");
    for (;;) {
      attempts++;
      let failure: { cls: FailureClass; message: string; status?: number; retry: boolean };
      try {
        await slots?.acquire(req.agent, ctl.signal);
        let res;
        try {
          const remaining = policy.deadlineMs - (performance.now() - started);
          res = await client.post(req.agent, "/run", req.row, { timeoutMs: Math.max(1, Math.ceil(remaining)), maxRetries: 0, signal: ctl.signal });
        } finally {
          slots?.release(req.agent);
        }
        if (res.status >= 200 && res.status < 300) return finish(res.text);
        const retry = res.status >= 500 || res.status === 429;
        failure = { cls: retry ? "server_error" : "client_error", message: `agent '${req.agent}' answered /run with HTTP ${res.status}: ${res.text.slice(0, 2000)}`, status: res.status, retry };
      } catch (e) {
        const early = interrupted();
        if (early) return early;
        if (e instanceof GymConnectionError) failure = { cls: "connection", message: e.message, retry: true };
        else if (e instanceof GymClientError) failure = { cls: "config", message: e.message, retry: false };
        else failure = { cls: "internal", message: `${(e as Error).name}: ${(e as Error).message}`, retry: false };
      }
      if (!failure.retry || attempts > policy.retries) return fail(failure.cls, `${failure.message}${attempts > 1 ? ` (after ${attempts} attempts)` : ""}`, failure.status);
      try {
        await sleep(backoff(attempts - 1, policy), ctl.signal);
      } catch {
        return interrupted() ?? fail(failure.cls, failure.message, failure.status);
      }
    }
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", onStop);
  }

  function finish(text: string): RolloutOutcome {
    let result: Row;
    try {
      result = JSON.parse(text) as Row;
    } catch {
      return fail("invalid_result", `agent '${req.agent}' answered /run with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    if (!result || typeof result !== "object" || Array.isArray(result)) return fail("invalid_result", `agent '${req.agent}' answered /run with ${text.slice(0, 200)}, not a verify response`);
    // The environment's own verdict (e.g. judge_failed): reported, not retried, not trained on.
    if (typeof result._ng_failure_class === "string") {
      const why = Object.entries(result).find(([k]) => k.startsWith("_ng_failure_") && k !== "_ng_failure_class")?.[1];
      return fail(result._ng_failure_class, `environment reported ${result._ng_failure_class}${why ? `: ${String(why)}` : ""}`);
    }
    // NeMo Gym re-stamps the routing keys on every result: an agent need not echo them.
    result._ng_task_index = req.taskIndex;
    result._ng_rollout_index = req.rolloutIndex;
    result.agent_ref = req.row.agent_ref;
    const response = result.response as { output?: unknown } | undefined;
    if (typeof result.reward !== "number" || !response || !Array.isArray(response.output)) {
      return fail("invalid_result", `agent '${req.agent}' returned a result without a numeric reward and response.output (keys: ${Object.keys(result).join(", ")})`);
    }
    try {
      const conversion = gymResultToSamples(result as unknown as Parameters<typeof gymResultToSamples>[0], policy.trajectory);
      return { kind: "ok", ...base, result, conversion, timing: timing() };
    } catch (e) {
      if (e instanceof TrajectoryError) return fail("trajectory", `${e.code}: ${e.message}`);
      throw e;
    }
  }
}

function backoff(retry: number, p: RunPolicy): number {
  return Math.min(p.backoffMs * 2 ** retry, p.maxBackoffMs) * (1 - Math.random() * 0.25);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
