/**
 * What can go wrong talking to a remote replica, as one error class whose `kind` says whether the
 * pool may retry the request elsewhere. Every message names the replica's URL, and a bad response
 * also names the field, so a broken server is never turned into a silently wrong trajectory.
 */

export type RemoteErrorKind =
  /** connection refused or reset, socket closed before the answer: the replica is down */
  | "unreachable"
  /** no complete answer within the per-attempt timeout: the replica is wedged or overloaded */
  | "timeout"
  /** HTTP 5xx: the replica failed this request */
  | "server"
  /** HTTP 4xx: the request itself is wrong; every replica would refuse it */
  | "rejected"
  /** 2xx with a body that is not the documented shape (garbage JSON, missing ids, wrong lengths) */
  | "invalid-response"
  /** the replica serves weights other than the pool's (it missed a weight update) */
  | "stale-weights"
  /** the caller's signal aborted */
  | "aborted";

export class RemoteEngineError extends Error {
  constructor(
    readonly kind: RemoteErrorKind,
    /** the replica's base URL */
    readonly url: string,
    message: string,
    /** the response field at fault, for invalid responses */
    readonly field: string | null = null,
    readonly status: number | null = null,
  ) {
    super(`replica ${url}: ${message}`);
    this.name = "RemoteEngineError";
  }

  /** Whether another replica may succeed where this one failed (the replica's fault, not the request's). */
  get replicaFault(): boolean {
    return this.kind === "unreachable" || this.kind === "timeout" || this.kind === "server" || this.kind === "stale-weights";
  }
}

/** A response that is not the documented shape: the message names the route and the field. */
export function invalidResponse(url: string, route: string, field: string, problem: string): RemoteEngineError {
  return new RemoteEngineError("invalid-response", url, `${route} response: ${field} ${problem}`, field);
}
