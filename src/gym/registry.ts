/**
 * gymrl's TypeScript server implementations, by NeMo Gym impl name. The launcher looks an
 * instance's `<server_type>: <impl>` up here first; only when gymrl has no implementation of that
 * name does it fall back to the Python entrypoint in a NeMo Gym checkout.
 *
 * Each module default-exports a ServerDefinition (defineResourcesServer, defineServer).
 * Porting an environment = one line in resources_servers below.
 */
import { fileURLToPath } from "node:url";
import type { ServerType } from "./config/types.ts";

const gym = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const env = (name: string) => fileURLToPath(new URL(`../environments/${name}/server.ts`, import.meta.url));

export const TS_IMPLEMENTATIONS: Record<ServerType, Record<string, string>> = {
  responses_api_agents: {
    simple_agent: gym("./servers/simple-agent/server.ts"),
  },
  responses_api_models: {
    vllm_model: gym("./servers/vllm-model/server.ts"),
  },
  resources_servers: {
    example_single_tool_call: env("example_single_tool_call"),
    example_multi_step: env("example_multi_step"),
    example_session_state_mgmt: env("example_session_state_mgmt"),
    example_tool_call_multireward: env("example_tool_call_multireward"),
    mcqa: env("mcqa"),
    string_match: env("string_match"),
    math_with_judge: env("math_with_judge"),
    arithmetic: env("arithmetic"),
    calculator: env("calculator"),
    workplace_assistant: env("workplace_assistant"),
  },
};

/** The module file of gymrl's implementation of `serverType/impl`, or undefined. */
export function findTsImplementation(serverType: ServerType, impl: string): string | undefined {
  return Object.hasOwn(TS_IMPLEMENTATIONS[serverType], impl) ? TS_IMPLEMENTATIONS[serverType][impl] : undefined;
}
