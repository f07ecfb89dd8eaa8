/**
 * How each configured server is started: gymrl's TypeScript implementation of its impl name
 * (registry.ts) as `node --import tsx child-main.ts <module>`; otherwise, when a NeMo Gym
 * checkout is given, its Python entrypoint run the way NeMo Gym runs it — in
 * `<checkout>/<server_type>/<impl>/`, `python <entrypoint>` — with that directory's `.venv`
 * python when present (NeMo Gym creates it with uv; gymrl does not create venvs).
 * Both receive NEMO_GYM_CONFIG_DICT (the merged config as YAML) and NEMO_GYM_CONFIG_PATH (the name).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ServerInstance } from "../config/types.ts";
import { GymConfigError } from "../errors.ts";
import { findTsImplementation } from "../registry.ts";

export interface LaunchPlan {
  kind: "ts" | "python";
  command: string;
  args: string[];
  cwd: string;
  /** For /server_instances: the implementation's folder and the process's display name. */
  dirPath: string;
  processName: string;
  env: Record<string, string>;
}

export interface PlanOptions {
  /** A NeMo Gym checkout for servers gymrl has no implementation of (--nemo-gym-dir / NEMO_GYM_DIR). */
  nemoGymDir?: string;
  /** Python for NeMo Gym servers without a .venv (default GYMRL_PYTHON or python3). */
  python?: string;
}

const CHILD_MAIN = fileURLToPath(new URL("../servers/child-main.ts", import.meta.url));
// `--import tsx` would resolve from the working directory; an absolute URL works from anywhere.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export function planLaunch(s: ServerInstance, opts: PlanOptions): LaunchPlan {
  const tsModule = findTsImplementation(s.serverType, s.impl);
  if (tsModule) {
    return {
      kind: "ts",
      command: process.execPath,
      args: ["--import", TSX_LOADER, CHILD_MAIN, tsModule],
      cwd: process.cwd(),
      dirPath: tsModule.replace(/\/[^/]+$/, ""),
      processName: `gymrl ${s.serverType}/${s.impl}`,
      env: { GYMRL_EXIT_WITH_STDIN: "1" },
    };
  }
  const where = `${s.name}.${s.serverType}.${s.impl}`;
  if (!opts.nemoGymDir) {
    throw new GymConfigError(where, `has no gymrl implementation (known ${s.serverType}: see src/gym/registry.ts); give a NeMo Gym checkout with --nemo-gym-dir or NEMO_GYM_DIR to run its Python server`);
  }
  const dir = join(opts.nemoGymDir, s.serverType, s.impl);
  const entry = join(dir, String(s.block.entrypoint));
  if (!existsSync(entry)) throw new GymConfigError(`${where}.entrypoint`, `names ${entry}, which does not exist in the NeMo Gym checkout`);
  const venvPython = join(dir, ".venv", "bin", "python");
  const python = existsSync(venvPython) ? venvPython : (opts.python ?? process.env.GYMRL_PYTHON ?? "python3");
  return {
    kind: "python",
    command: python,
    args: [String(s.block.entrypoint)],
    cwd: dir,
    dirPath: dir,
    processName: `python ${s.serverType}/${s.impl}/${String(s.block.entrypoint)}`,
    env: { PYTHONUNBUFFERED: "1", PYTHONPATH: [opts.nemoGymDir, process.env.PYTHONPATH].filter(Boolean).join(":") },
  };
}
