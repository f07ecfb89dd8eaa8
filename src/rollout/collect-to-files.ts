/**
 * A collection written to files (the `gymrl rollout` command, minus argument parsing and Gym
 * start-up): rows → results, failures, materialized inputs and metrics files (output-files.ts),
 * with a progress bar, and `resume` to finish an interrupted run without redoing finished rollouts.
 * Rollouts aborted by an interrupt are written nowhere: a resume sends them again.
 */
import { createReadStream, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { GymClient } from "../gym/client.ts";
import { collectRollouts, type CollectOptions } from "./collect.ts";
import type { CollectionMetrics } from "./metrics.ts";
import { failureRecord, JsonlWriter, outputPaths, writeJson, writeJsonl, type OutputPaths } from "./output-files.ts";
import { Progress, type ProgressOptions } from "./progress.ts";
import { missingRequests, readDone } from "./resume.ts";
import { expandRows, type Row } from "./rows.ts";

export interface CollectToFilesOptions extends Omit<CollectOptions, "rows" | "requests" | "gym"> {
  gym: GymClient | { client: GymClient } | string;
  rows: readonly Row[];
  output: string;
  resume?: boolean;
  /** false: no progress output; otherwise its options. */
  progress?: ProgressOptions | false;
  /** ask each agent for its /aggregate_metrics at the end (NeMo Gym does; default true). */
  aggregate?: boolean;
}

export interface CollectToFilesReport {
  paths: OutputPaths;
  /** rollouts in the whole (expanded) batch. */
  total: number;
  /** found done in the results file and skipped (resume). */
  skipped: number;
  /** sent in this run, and how they ended. */
  sent: number;
  succeeded: number;
  failed: number;
  aborted: number;
  metrics: CollectionMetrics;
}

export async function collectToFiles(opts: CollectToFilesOptions): Promise<CollectToFilesReport> {
  const paths = outputPaths(opts.output);
  const all = expandRows(opts.rows, opts);
  writeJsonl(paths.materializedInputs, all.map((r) => r.row));

  let requests = all;
  if (opts.resume && existsSync(paths.results)) {
    const done = await readDone(paths.results);
    requests = missingRequests(all, done.keys);
  }
  const skipped = all.length - requests.length;
  const results = new JsonlWriter(paths.results, opts.resume ? "append" : "truncate");
  // Earlier failures are retried by a resume, so their records start over.
  const failures = new JsonlWriter(paths.failures, "truncate");
  const progress = opts.progress === false ? undefined : new Progress(requests.length, opts.progress);
  const client = typeof opts.gym === "string" ? await GymClient.fromHead(opts.gym) : opts.gym instanceof GymClient ? opts.gym : opts.gym.client;

  let succeeded = 0;
  let failed = 0;
  let aborted = 0;
  const run = collectRollouts({ ...opts, gym: client, rows: undefined, requests });
  try {
    for await (const o of run.outcomes()) {
      if (o.kind === "ok") {
        results.write(o.result);
        succeeded++;
      } else if (o.errorClass === "aborted") {
        aborted++;
      } else {
        failures.write(failureRecord(o));
        failed++;
      }
      progress?.tick(o.kind === "failed");
    }
  } finally {
    results.close();
    failures.close();
    progress?.finish();
  }
  const metrics = run.metrics();
  writeJson(paths.rolloutMetrics, metrics);
  if (opts.aggregate !== false && aborted === 0) await writeAggregateMetrics(client, paths);
  return { paths, total: all.length, skipped, sent: requests.length, succeeded, failed, aborted, metrics };
}

/**
 * NeMo Gym's last step: each agent's POST /aggregate_metrics over its results, stripped of
 * `response` (but its usage) and `responses_create_params`. Best effort: an agent that cannot
 * answer gets an `error` entry, the collection itself has succeeded.
 */
async function writeAggregateMetrics(client: GymClient, paths: OutputPaths): Promise<void> {
  const byAgent = new Map<string, Row[]>();
  for await (const line of createInterface({ input: createReadStream(paths.results), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as Row;
    const agent = (r.agent_ref as { name?: string } | undefined)?.name ?? "unknown";
    const { response, responses_create_params: _params, ...rest } = r;
    const usage = (response as { usage?: unknown } | undefined)?.usage;
    if (!byAgent.has(agent)) byAgent.set(agent, []);
    byAgent.get(agent)!.push({ ...rest, ...(usage ? { response: { usage } } : {}) });
  }
  const out: Row[] = [];
  for (const [agent, rows] of byAgent) {
    try {
      const agg = await client.postJson<Row>(agent, "/aggregate_metrics", { verify_responses: rows }, { timeoutMs: 120_000, maxRetries: 1 });
      out.push({ agent_ref: { type: "responses_api_agents", name: agent }, ...agg });
    } catch (e) {
      out.push({ agent_ref: { type: "responses_api_agents", name: agent }, error: (e as Error).message });
    }
  }
  writeJson(paths.aggregateMetrics, out);
}
