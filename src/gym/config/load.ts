/**
 * Loading a NeMo Gym global config. Precedence, lowest first (as NeMo Gym): gymrl defaults →
 * the files in `config_paths` (each after its own config_paths) → `env.yaml` → command-line
 * overrides. Then `${...}` interpolation, then validation. Ports are not assigned here (see
 * ports.ts), so `gymrl gym resolve` can print a config without binding anything.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GymConfigError } from "../errors.ts";
import { mergeConfigPaths, readYamlFile } from "./files.ts";
import { resolveInterpolations } from "./interpolate.ts";
import { mergeInto } from "./merge.ts";
import { applyDeletes, overridesToDict, parseOverride, type Override } from "./overrides.ts";
import { Provenance } from "./provenance.ts";
import { DEFAULTS, type ConfigDict } from "./types.ts";
import { validateConfig } from "./validate.ts";

export interface LoadGymConfigOptions {
  /** Config files (like `--config`), merged in order before any config_paths given in overrides. */
  configPaths?: readonly string[];
  /** Hydra-style overrides: `+policy_base_url=http://...`, `head_server.port=0`, `~key`. */
  overrides?: readonly string[];
  /** A config dict merged like overrides (NeMo RL's `initial_global_config_dict`). */
  initial?: ConfigDict;
  /** env.yaml to merge; default `<cwd>/env.yaml` when it exists; `false` for none. */
  envYaml?: string | false;
  /** Folder relative paths are resolved against first; default process.cwd(). */
  cwd?: string;
  /** More folders to resolve relative config paths against (e.g. a NeMo Gym checkout). */
  extraRoots?: readonly string[];
  /** Environment for `${oc.env:...}`; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface LoadedGymConfig {
  config: ConfigDict;
  provenance: Provenance;
}

/** gymrl's repository root: config paths such as src/environments/x/configs/x.yaml resolve from here too. */
export const GYMRL_ROOT = resolve(fileURLToPath(new URL("../../../", import.meta.url)));

export function loadGymConfig(opts: LoadGymConfigOptions = {}): LoadedGymConfig {
  const cwd = opts.cwd ?? process.cwd();
  const prov = new Provenance();
  const overrides: Override[] = (opts.overrides ?? []).map(parseOverride);
  const fromCli = mergeInto(overridesToDict(overrides), opts.initial ?? {}, "initial config", new Provenance());
  const roots = [cwd, ...(opts.extraRoots ?? []), GYMRL_ROOT];

  const cfg: ConfigDict = mergeInto({}, DEFAULTS as unknown as ConfigDict, "gymrl defaults", prov);

  const paths = [...(opts.configPaths ?? []), ...asList(fromCli.config_paths)];
  if (paths.length === 0 && !opts.initial) {
    throw new GymConfigError("config_paths", "is empty: give at least one --config file (or +config_paths=[...])", "command line");
  }
  mergeConfigPaths(cfg, paths, { roots, includedFrom: "command line", prov });
  cfg.config_paths = paths;

  const envYaml = opts.envYaml === undefined ? resolve(cwd, "env.yaml") : opts.envYaml;
  if (envYaml && (opts.envYaml !== undefined || existsSync(envYaml))) {
    const { config_paths: _ignored, ...envDict } = readYamlFile(envYaml);
    mergeInto(cfg, envDict, envYaml, prov);
  }

  const { config_paths: _cp, ...cliRest } = fromCli;
  mergeInto(cfg, cliRest, "command line", prov);
  applyDeletes(cfg, overrides, prov);

  resolveInterpolations(cfg, prov, opts.env);
  validateConfig(cfg, prov);
  return { config: cfg, provenance: prov };
}

function asList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}
