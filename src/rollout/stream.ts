/**
 * The dispatcher: runs rollout requests with at most `concurrency` in flight and at most
 * `maxResident` rollouts resident (in flight + finished but not yet taken by the consumer), and
 * yields their outcomes in completion order. A consumer that stops pulling stops new sends, so
 * memory stays bounded however large the batch. Every request yields exactly one outcome; after
 * `signal` aborts, unsent requests come back as "aborted" failures without being sent. If a
 * rollout's promise rejects (a bug: runRollout reports failures as outcomes), the generator throws
 * that error, naming the rollout, and aborts the rest.
 * Not here: what one rollout does (run-rollout.ts), grouping (groups.ts).
 */
import { setMaxListeners } from "node:events";
import type { GymClient } from "../gym/client.ts";
import type { RolloutOutcome } from "./outcome.ts";
import type { RolloutRequest } from "./rows.ts";
import { runRollout, type RunPolicy } from "./run-rollout.ts";
import { Slots } from "./slots.ts";

export interface StreamOptions {
  /** rollouts in flight at once (default 64). */
  concurrency?: number;
  /** cap on rollouts held in memory: in flight + finished and not yet consumed (default 4 × concurrency). */
  maxResident?: number;
  /** per-rollout deadline in ms, retries included (default 30 min). */
  deadlineMs?: number;
  /** retries of infrastructure failures after the first attempt (default 2). */
  retries?: number;
  /** first retry backoff in ms (default 500), doubled per retry, capped at 8 s. */
  backoffMs?: number;
  trajectory?: RunPolicy["trajectory"];
  /** /run requests on the wire per agent at once (default 1024, the HTTP pool's sockets per host); more rollouts wait here, deadline running. */
  connectionsPerAgent?: number;
  /** stops sending; in-flight rollouts are aborted and reported as "aborted". */
  signal?: AbortSignal;
}

export async function* streamRollouts(client: GymClient, requests: readonly RolloutRequest[], opts: StreamOptions = {}): AsyncGenerator<RolloutOutcome> {
  const concurrency = Math.max(1, opts.concurrency ?? 64);
  const maxResident = Math.max(concurrency, opts.maxResident ?? concurrency * 4);
  const policy: RunPolicy = {
    deadlineMs: opts.deadlineMs ?? 30 * 60_000,
    retries: opts.retries ?? 2,
    backoffMs: opts.backoffMs ?? 500,
    maxBackoffMs: 8000,
    trajectory: opts.trajectory ?? {},
  };
  // One internal signal that every in-flight rollout listens to (many listeners by design).
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const onAbort = () => stop.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  const slots = new Slots(Math.max(1, opts.connectionsPerAgent ?? 1024));
  const t0 = performance.now();
  const ready: RolloutOutcome[] = [];
  let readyHead = 0;
  let next = 0;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  // runRollout turns every rollout failure into an outcome; a rejection is a bug. It must end the
  // collection with that error: left unhandled, its request would never yield and the step would hang.
  let broken: Error | undefined;

  const pump = () => {
    while (!broken && next < requests.length && inFlight < concurrency && inFlight + (ready.length - readyHead) < maxResident) {
      const req = requests[next++];
      inFlight++;
      runRollout(client, req, policy, performance.now() - t0, stop.signal, slots).then(
        (outcome) => {
          inFlight--;
          ready.push(outcome);
          wake?.();
          pump();
        },
        (e: unknown) => {
          inFlight--;
          broken ??= new Error(`rollout (task ${req.taskIndex}, rollout ${req.rolloutIndex}, agent '${req.agent}') failed inside the collector: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
          wake?.();
        },
      );
    }
  };

  try {
    pump();
    let yielded = 0;
    while (yielded < requests.length) {
      if (broken) throw broken;
      if (readyHead === ready.length) {
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      const outcome = ready[readyHead];
      ready[readyHead++] = undefined as unknown as RolloutOutcome; // release it for GC
      if (readyHead > 1024 && readyHead * 2 > ready.length) {
        ready.splice(0, readyHead);
        readyHead = 0;
      }
      yielded++;
      yield outcome;
      pump(); // the consumer took one: room for another send
    }
  } finally {
    // An early `break` by the consumer: abort what is in flight; nothing more is sent.
    next = requests.length;
    stop.abort(new Error("collection closed by its consumer"));
    opts.signal?.removeEventListener("abort", onAbort);
  }
}
