/**
 * Dataset rows → the rollouts to run, as NeMo Gym's collector prepares them (`run_from_config`):
 * rows are repeated num_repeats times in place ("abc" → "aabbcc"), each copy stamped with
 * `_ng_task_index` (its prompt group) and `_ng_rollout_index` (0..n-1 within the group), routed by
 * `agent_ref` (or a default agent), with sampling params stamped into `responses_create_params`
 * (NeMo RL `_prepare_nemo_gym_rows`: temperature/top_p replaced, max_output_tokens = min(row, cap)).
 *
 * Identical rows share a task index (NeMo Gym dedups them into one task); their copies get
 * consecutive rollout indices, so (task, rollout) stays unique and a resume can key on it. A row
 * that already carries `_ng_task_index` keeps it. Not here: sending (collect.ts), grouping results.
 */

export type Row = Record<string, unknown>;

export interface SamplingParams {
  temperature?: number;
  top_p?: number;
  /** a cap: the row's own max_output_tokens is kept when smaller. */
  max_output_tokens?: number;
}

export interface ExpandOptions {
  /** copies of each row (a prompt group's size); default 1. */
  numRepeats?: number;
  /** agent for rows without `agent_ref` (NeMo Gym `agent_name`). */
  defaultAgent?: string;
  /** only the first `limit` input rows (before repeating). */
  limit?: number;
  samplingParams?: SamplingParams;
  /** NeMo Gym `num_repeats_add_seed`: seed = rollout index, via `metadata.extra_body`. */
  seedPerRollout?: boolean;
  /** A sampling seed per rollout (wins over seedPerRollout), sent the same way: `metadata.extra_body.seed`. */
  seedOf?: (taskIndex: number, rolloutIndex: number) => number;
}

/** One rollout to run: the row as POSTed to `/run`, and where it goes. */
export interface RolloutRequest {
  taskIndex: number;
  rolloutIndex: number;
  agent: string;
  row: Row;
}

export class RowError extends Error {
  override readonly name = "RowError";
}

export function rolloutKey(taskIndex: number, rolloutIndex: number): string {
  return `${taskIndex}:${rolloutIndex}`;
}

export function expandRows(rows: readonly Row[], opts: ExpandOptions = {}): RolloutRequest[] {
  const n = opts.numRepeats ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new RowError(`numRepeats must be a positive integer, got ${n}`);
  const input = opts.limit !== undefined ? rows.slice(0, opts.limit) : rows;

  const taskOf = new Map<string, number>(); // canonical row text → task index
  const nextRollout = new Map<number, number>(); // task index → next free rollout index
  let nextTask = 0;
  for (const r of input) if (typeof r._ng_task_index === "number") nextTask = Math.max(nextTask, r._ng_task_index + 1);

  const out: RolloutRequest[] = [];
  input.forEach((row, i) => {
    if (typeof row !== "object" || row === null || typeof row.responses_create_params !== "object" || row.responses_create_params === null) {
      throw new RowError(`row ${i}: responses_create_params (an object) is required`);
    }
    const agent = agentOf(row, opts.defaultAgent, i);
    let task: number;
    if (typeof row._ng_task_index === "number") {
      task = row._ng_task_index;
    } else {
      const key = canonical(row);
      task = taskOf.get(key) ?? nextTask++;
      taskOf.set(key, task);
    }
    for (let k = 0; k < n; k++) {
      const rollout = nextRollout.get(task) ?? 0;
      nextRollout.set(task, rollout + 1);
      out.push({ taskIndex: task, rolloutIndex: rollout, agent, row: stamp(row, task, rollout, agent, opts) });
    }
  });
  return out;
}

function agentOf(row: Row, fallback: string | undefined, i: number): string {
  const ref = row.agent_ref as { name?: unknown } | undefined | null;
  if (ref && typeof ref.name === "string" && ref.name) return ref.name;
  if (fallback) return fallback;
  throw new RowError(`row ${i} has no agent_ref and no default agent was given (--agent / defaultAgent)`);
}

function stamp(row: Row, task: number, rollout: number, agent: string, opts: ExpandOptions): Row {
  const params: Row = { ...(row.responses_create_params as Row) };
  const sp = opts.samplingParams;
  if (sp?.temperature !== undefined) params.temperature = sp.temperature;
  if (sp?.top_p !== undefined) params.top_p = sp.top_p;
  if (sp?.max_output_tokens !== undefined) {
    const own = params.max_output_tokens;
    params.max_output_tokens = typeof own === "number" ? Math.min(own, sp.max_output_tokens) : sp.max_output_tokens;
  }
  if (opts.seedOf || opts.seedPerRollout) {
    const metadata = { ...((params.metadata as Record<string, string> | null | undefined) ?? {}) };
    const extra = metadata.extra_body ? (JSON.parse(metadata.extra_body) as Row) : {};
    metadata.extra_body = JSON.stringify({ ...extra, seed: opts.seedOf ? opts.seedOf(task, rollout) : rollout });
    params.metadata = metadata;
  }
  return {
    ...row,
    responses_create_params: params,
    agent_ref: { type: "responses_api_agents", name: agent },
    _ng_task_index: task,
    _ng_rollout_index: rollout,
  };
}

/** JSON with sorted keys, so two rows equal as values dedup to one task. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Row;
    return `{${Object.keys(o)
      .filter((k) => k !== "_ng_rollout_index")
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}
