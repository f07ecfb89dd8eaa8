/**
 * HTTP errors thrown by handlers and rendered in one place (app.ts). Two wire styles, chosen per
 * route: OpenAI's `{"error": {message, type, code}}` for the OpenAI-like endpoints (/v1/...), and
 * FastAPI's `{"detail": ...}` for NeMo Gym's own endpoints, so Python callers see what they expect.
 */
import type { z } from "zod";

export type ErrorStyle = "openai" | "detail";

export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    /** OpenAI error type, e.g. invalid_request_error, upstream_error. */
    readonly type = status >= 500 ? "server_error" : "invalid_request_error",
    /** FastAPI-style detail; defaults to the message. */
    readonly detail?: unknown,
  ) {
    super(message);
  }
}

export function renderError(e: HttpError, style: ErrorStyle): unknown {
  if (style === "openai") return { error: { message: e.message, type: e.type, param: null, code: e.status } };
  return { detail: e.detail ?? e.message };
}

/** A zod failure as a request-validation error: 422 with FastAPI-like detail, or 400 in OpenAI style. */
export function validationError(err: z.ZodError, style: ErrorStyle, where = "body"): HttpError {
  const detail = err.issues.map((i) => ({ type: i.code, loc: [where, ...i.path.map(String)], msg: i.message }));
  const summary = err.issues
    .slice(0, 5)
    .map((i) => `${[where, ...i.path.map(String)].join(".")}: ${i.message}`)
    .join("; ");
  return new HttpError(style === "openai" ? 400 : 422, `Invalid request: ${summary}`, "invalid_request_error", detail);
}
