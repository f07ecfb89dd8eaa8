/**
 * Where test inputs live, all inside the repository: a user's clone has nothing beside it.
 * NeMo Gym's sample data is split between test/fixtures/nemo-gym (configs, and the data of the
 * environments gymrl does not port) and src/environments/<env>/data, whose files are NeMo Gym's
 * own, byte for byte (test/fixtures/SHA256SUMS pins both; test/gym/fixtures.test.ts checks it).
 */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(fileURLToPath(new URL("../../../", import.meta.url)));

export const EXAMPLE_CONFIG = resolve(REPO, "src/environments/example_single_tool_call/configs/example_single_tool_call.yaml");
export const VLLM_CONFIG = resolve(REPO, "src/gym/configs/vllm_model_for_training.yaml");
/** NeMo Gym's responses_api_agents/simple_agent config; gymrl ships it unchanged. */
export const SIMPLE_AGENT_CONFIG = resolve(REPO, "src/gym/configs/simple_agent.yaml");

export const NEMO_GYM_FIXTURES = resolve(REPO, "test/fixtures/nemo-gym");

/** NeMo Gym's sample environments: one folder each under test/fixtures/nemo-gym, holding its config. */
export const NEMO_GYM_ENVS: string[] = readdirSync(NEMO_GYM_FIXTURES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** A sample environment's data file: its fixture copy, else the identical one its gymrl port ships. */
export function nemoGymData(env: string, file: string): string {
  const candidates = [join(NEMO_GYM_FIXTURES, env, file), resolve(REPO, "src/environments", env, "data", file)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`NeMo Gym sample ${env}/${file} is in neither ${candidates.join(" nor ")}`);
  return found;
}

/**
 * Every NeMo Gym sample config, named by its path in NeMo Gym's data folder (<env>/<file>.yaml):
 * the environments' from the fixtures, plus simple_agent and vllm_model_for_training from
 * src/gym/configs, which are the same bytes.
 */
export const NEMO_GYM_CONFIGS: { name: string; path: string }[] = [
  ...NEMO_GYM_ENVS.flatMap((env) =>
    readdirSync(join(NEMO_GYM_FIXTURES, env))
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => ({ name: `${env}/${f}`, path: join(NEMO_GYM_FIXTURES, env, f) })),
  ),
  { name: "simple_agent.yaml", path: SIMPLE_AGENT_CONFIG },
  { name: "vllm_model_for_training.yaml", path: VLLM_CONFIG },
];
