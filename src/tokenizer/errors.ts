/** Errors of the tokenizer layer. Parse failures of model output are values, not errors (see the parsers). */

/** Misuse or an unsupported tokenizer file; the message says which. */
export class TokenizerError extends Error {
  override name = "TokenizerError";
}

/** A chat could not be rendered: bad input messages or a failing template. */
export class ChatTemplateError extends TokenizerError {
  override name = "ChatTemplateError";
}
