/** The wire types, written once: Responses, Chat Completions, NeMo Gym endpoints, token bundles. */
export * from "./responses.ts";
export * from "./chat.ts";
export * from "./gym.ts";
export * from "./tokens.ts";
