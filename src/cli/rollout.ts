/**
 * `gymrl rollout`: collect rollouts from Gym agents into files (NeMo Gym's `ng_collect_rollouts`).
 *   gymrl rollout --config a.yaml [--config b.yaml] --input rows.jsonl --output out.jsonl
 *                 [--num-repeats N] [--concurrency C] [--limit K] [--policy-base-url URL] [+key=value ...]
 *   gymrl rollout --head-url http://127.0.0.1:11000 --input rows.jsonl --output out.jsonl --resume
 * Starts Gym from the config(s) unless --head-url names a running head server; writes
 * out.jsonl, out_failures.jsonl, out_materialized_inputs.jsonl, out_aggregate_metrics.json and
 * out_rollout_metrics.json. Ctrl-C stops sending, keeps what finished; --resume completes the rest.
 * The work itself is rollout/collect-to-files.ts.
 */
import { defineCommand } from "citty";
import { GymConfigError, GymServerError, listServerInstances, startGym, type GymClient, type GymHandle } from "../gym/index.ts";
import { readJsonl } from "../rollout/jsonl.ts";
import { collectToFiles, type PrefixBreakPolicy, type Row, type SamplingParams } from "../rollout/index.ts";

const VALUE_FLAGS = new Set([
  "config", "input", "output", "num-repeats", "concurrency", "limit", "policy-base-url", "policy-model-name", "policy-api-key",
  "head-url", "agent", "deadline", "retries", "max-resident", "temperature", "top-p", "max-output-tokens", "prefix-break", "env-yaml",
]);
const BOOL_FLAGS = new Set(["resume", "quiet", "seed-per-rollout", "no-aggregate"]);

/** Repeated --config flags, the other flags, and the positional `+key=value` overrides, from raw argv. */
export function parseRolloutArgs(raw: readonly string[]): { configPaths: string[]; overrides: string[]; flags: Record<string, string> } {
  const configPaths: string[] = [];
  const overrides: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < raw.length; i++) {
    const a = raw[i];
    if (!a.startsWith("--")) {
      overrides.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.slice(2, eq >= 0 ? eq : undefined);
    if (BOOL_FLAGS.has(name)) {
      flags[name] = eq >= 0 ? a.slice(eq + 1) : "true";
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new GymConfigError(`--${name}`, "is not an option of gymrl rollout (see --help)", "command line");
    const value = eq >= 0 ? a.slice(eq + 1) : raw[++i];
    if (value === undefined) throw new GymConfigError(`--${name}`, "expects a value", "command line");
    if (name === "config") configPaths.push(value);
    else flags[name] = value;
  }
  // The policy flags are overrides of the policy_* keys that vllm_model_for_training.yaml reads.
  if (flags["policy-base-url"]) overrides.push(`+policy_base_url=${flags["policy-base-url"]}`);
  if (flags["policy-model-name"] || flags["policy-base-url"]) overrides.push(`+policy_model_name=${flags["policy-model-name"] ?? "policy"}`);
  if (flags["policy-api-key"] || flags["policy-base-url"]) overrides.push(`+policy_api_key=${flags["policy-api-key"] ?? "dummy_key"}`);
  return { configPaths, overrides, flags };
}

function num(flags: Record<string, string>, name: string): number | undefined {
  if (flags[name] === undefined) return undefined;
  const v = Number(flags[name]);
  if (!Number.isFinite(v)) throw new GymConfigError(`--${name}`, `must be a number, got '${flags[name]}'`, "command line");
  return v;
}

export function readRows(path: string): Row[] {
  try {
    return readJsonl(path).map((l) => l.value as Row);
  } catch (e) {
    // a GymConfigError, so the command reports it in one line
    throw new GymConfigError("--input", (e as Error).message, "command line");
  }
}

/** The only agent of a config, as the default for rows without agent_ref. */
function soleAgent(config: Record<string, unknown>): string | undefined {
  const agents = listServerInstances(config).filter((s) => s.serverType === "responses_api_agents");
  return agents.length === 1 ? agents[0].name : undefined;
}

export async function runRollout(raw: readonly string[]): Promise<number> {
  const { configPaths, overrides, flags } = parseRolloutArgs(raw);
  if (!flags.input || !flags.output) throw new GymConfigError("--input and --output", "are required", "command line");
  if (!flags["head-url"] && configPaths.length === 0) throw new GymConfigError("--config", "is required unless --head-url names a running Gym", "command line");
  const rows = readRows(flags.input);

  const stop = new AbortController();
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: leave now
    interrupted = true;
    process.stderr.write("\nStopping: finished rollouts are kept; run again with --resume to complete the rest.\n");
    stop.abort(new Error("interrupted"));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let gym: GymHandle | undefined;
  let target: GymClient | string;
  try {
    if (flags["head-url"]) {
      target = flags["head-url"];
    } else {
      gym = await startGym({
        configPaths,
        overrides,
        envYaml: flags["env-yaml"],
        onOutput: flags.quiet ? undefined : (name, line) => process.stderr.write(`[${name}] ${line}\n`),
        onServerExit: (_s, err) => process.stderr.write(`\n${err.message}\n(collection goes on; its rollouts will fail and be recorded)\n`),
      });
      target = gym.client;
    }
    const sampling: SamplingParams = {};
    if (flags.temperature) sampling.temperature = num(flags, "temperature");
    if (flags["top-p"]) sampling.top_p = num(flags, "top-p");
    if (flags["max-output-tokens"]) sampling.max_output_tokens = num(flags, "max-output-tokens");
    const report = await collectToFiles({
      gym: target,
      rows,
      output: flags.output,
      resume: flags.resume === "true",
      numRepeats: num(flags, "num-repeats"),
      limit: num(flags, "limit"),
      defaultAgent: flags.agent ?? (gym ? soleAgent(gym.config) : undefined),
      samplingParams: Object.keys(sampling).length > 0 ? sampling : undefined,
      seedPerRollout: flags["seed-per-rollout"] === "true",
      concurrency: num(flags, "concurrency"),
      maxResident: num(flags, "max-resident"),
      deadlineMs: flags.deadline ? num(flags, "deadline")! * 1000 : undefined,
      retries: num(flags, "retries"),
      trajectory: { onPrefixBreak: (flags["prefix-break"] as PrefixBreakPolicy | undefined) ?? "split" },
      aggregate: flags["no-aggregate"] !== "true",
      signal: stop.signal,
    });
    const m = report.metrics;
    process.stderr.write(
      `rollouts: ${report.total} in all, ${report.skipped} already done, ${report.sent} sent: ${report.succeeded} succeeded, ` +
        `${report.failed} failed ${JSON.stringify(m.failures_by_class)}, ${report.aborted} not finished; ` +
        `reward mean ${m.reward.mean.toFixed(3)}; contiguity breaks ${m.contiguity_breaks}; ${m.timing.rollouts_per_s.toFixed(1)} rollouts/s\n` +
        `results: ${report.paths.results}\nfailures: ${report.paths.failures}\nmetrics: ${report.paths.rolloutMetrics}\n`,
    );
    return interrupted ? 130 : report.failed > 0 ? 2 : 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await gym?.stop();
  }
}

const rolloutCommand = defineCommand({
  meta: { name: "rollout", description: "Collect rollouts from Gym agents: rows.jsonl → results, failures and metrics files" },
  args: {
    config: { type: "string", description: "Gym config file; repeat for several (merged in order)" },
    input: { type: "string", description: "JSONL of Gym rows ({responses_create_params, agent_ref?, ...})" },
    output: { type: "string", description: "results file <stem>.jsonl; <stem>_failures.jsonl etc. are written beside it" },
    "num-repeats": { type: "string", description: "rollouts per row (prompt group size), default 1" },
    concurrency: { type: "string", description: "rollouts in flight at once, default 64" },
    limit: { type: "string", description: "only the first K rows" },
    "policy-base-url": { type: "string", description: "OpenAI-compatible policy .../v1 URL (sets policy_base_url)" },
    "policy-model-name": { type: "string", description: "policy model name (sets policy_model_name)" },
    "policy-api-key": { type: "string", description: "policy API key (sets policy_api_key)" },
    "head-url": { type: "string", description: "use a running Gym's head server instead of starting one" },
    agent: { type: "string", description: "agent for rows without agent_ref (default: the config's only agent)" },
    deadline: { type: "string", description: "per-rollout deadline in seconds, retries included (default 1800)" },
    retries: { type: "string", description: "retries of infrastructure failures per rollout (default 2)" },
    "max-resident": { type: "string", description: "cap on rollouts held in memory (default 4 × concurrency)" },
    temperature: { type: "string", description: "stamped into every row's responses_create_params" },
    "top-p": { type: "string", description: "stamped into every row's responses_create_params" },
    "max-output-tokens": { type: "string", description: "cap on every row's max_output_tokens" },
    "seed-per-rollout": { type: "boolean", description: "seed = rollout index (metadata.extra_body)" },
    "prefix-break": { type: "string", description: "trajectory policy on a prefix break: split (default), drop, fail" },
    resume: { type: "boolean", description: "keep the results already in --output, send only the missing rollouts" },
    quiet: { type: "boolean", description: "do not print the Gym servers' output" },
    "no-aggregate": { type: "boolean", description: "skip the agents' /aggregate_metrics" },
    "env-yaml": { type: "string", description: "env.yaml to merge" },
  },
  async run({ rawArgs }) {
    let code: number;
    try {
      code = await runRollout(rawArgs);
    } catch (e) {
      if (e instanceof GymConfigError || e instanceof GymServerError) {
        console.error(e.message);
        process.exit(1);
      }
      throw e;
    }
    process.exit(code); // pooled keep-alive connections would hold the process open for a while
  },
});

export default rolloutCommand;
