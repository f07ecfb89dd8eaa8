/** Errors in OpenAI's wire shape: `{"error": {"message", "type", "code"}}`. */

export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "not_found_error"
  | "server_error";

export class OpenAIHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: OpenAIErrorType = status >= 500 ? "server_error" : "invalid_request_error",
    readonly param: string | null = null,
  ) {
    super(message);
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.status } };
  }
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: number };
}

export const badRequest = (message: string, param: string | null = null) =>
  new OpenAIHttpError(400, message, "invalid_request_error", param);
