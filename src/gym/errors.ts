/**
 * The gym layer's error tree. Each class says which side is at fault: a config the user wrote
 * (GymConfigError), a server that failed to start or died (GymServerError), or a call between
 * servers (GymClientError and its two cases). HTTP errors raised inside servers are in http/.
 */

/** A config file, env.yaml or command-line override is wrong. Names the file, the key and what was expected. */
export class GymConfigError extends Error {
  override name = "GymConfigError";
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly source?: string,
  ) {
    super(`${source ? `${source}: ` : ""}${key ? `'${key}' ` : ""}${expected}`);
  }
}

/** A Gym server child process failed to start, or exited. Carries the tail of its output. */
export class GymServerError extends Error {
  override name = "GymServerError";
  constructor(
    readonly serverName: string,
    message: string,
    readonly outputTail = "",
  ) {
    super(`Gym server '${serverName}' ${message}${outputTail ? `\n--- last output of '${serverName}' ---\n${outputTail}` : ""}`);
  }
}

/** Base class of every failure of a call from one server (or the trainer) to another. */
export class GymClientError extends Error {
  override name = "GymClientError";
}

/** The target could not be reached (refused, reset, timed out) even after the bounded retries. */
export class GymConnectionError extends GymClientError {
  override name = "GymConnectionError";
  constructor(
    readonly serverName: string,
    readonly url: string,
    readonly attempts: number,
    readonly causeText: string,
  ) {
    super(`server '${serverName}' at ${url} is unreachable after ${attempts} attempt(s): ${causeText}`);
  }
}

/** The target answered with a non-2xx status. `body` is the raw response text. */
export class GymHttpError extends GymClientError {
  override name = "GymHttpError";
  constructor(
    readonly serverName: string,
    readonly url: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`server '${serverName}' answered ${url} with HTTP ${status}: ${body.slice(0, 2000)}`);
  }
}
