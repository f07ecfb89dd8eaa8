/**
 * The GRPO run's prompts: each environment's train rows (stamped with its agent), mixed into one
 * pool, visited epoch by epoch in an order that is a pure function of (seed, epoch). The position
 * (epoch, cursor) is all a checkpoint needs to continue with exactly the next prompt: nothing is
 * skipped or repeated across a resume. Validation rows are the first n of each environment's split.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Rng } from "../model/rng.ts";
import { readJsonl } from "../rollout/jsonl.ts";
import type { Row } from "../rollout/rows.ts";
import type { DataSource, EnvironmentSpec } from "./recipe.ts";

export interface DataPosition {
  epoch: number;
  cursor: number;
}

/** A row of the pool with its stable id (environment agent and index in its source). */
export interface PoolRow {
  id: string;
  agent: string;
  row: Row;
}

function readJsonlRows(path: string): Row[] {
  return readJsonl(path).map((l) => l.value as Row);
}

/**
 * An environment's row generator: src/environments/<name>/tasks.ts (or data.ts, index.ts) exporting
 * `generateRows({split, n, seed})` (or `trainRows(n, seed)` / `validationRows(n, seed)`).
 */
async function generatedRows(src: Extract<DataSource, { generator: string }>): Promise<Row[]> {
  const base = resolve(import.meta.dirname, "../environments", src.generator);
  for (const file of ["tasks.ts", "data.ts", "rows.ts", "index.ts"]) {
    const p = resolve(base, file);
    if (!existsSync(p)) continue;
    const m = (await import(pathToFileURL(p).href)) as Record<string, unknown>;
    if (typeof m.generateRows === "function") return (m.generateRows as (o: object) => Row[])({ split: src.split, n: src.n, seed: src.seed });
    const fn = m[src.split === "train" ? "trainRows" : "validationRows"];
    if (typeof fn === "function") return (fn as (n: number, seed: number) => Row[])(src.n, src.seed);
  }
  throw new Error(`environment '${src.generator}' has no row generator (generateRows / trainRows / validationRows in ${base}/data.ts)`);
}

export async function loadRows(src: DataSource): Promise<Row[]> {
  return typeof src === "string" ? readJsonlRows(src) : generatedRows(src);
}

function stampAgent(rows: Row[], agent: string, split: string): PoolRow[] {
  return rows.map((row, i) => ({
    id: `${agent}/${split}/${i}`,
    agent,
    row: row.agent_ref ? row : { ...row, agent_ref: { type: "responses_api_agents", name: agent } },
  }));
}

export async function loadTrainPool(envs: readonly EnvironmentSpec[]): Promise<PoolRow[]> {
  const pool: PoolRow[] = [];
  for (const e of envs) pool.push(...stampAgent(await loadRows(e.train), e.agent, "train"));
  if (pool.length === 0) throw new Error("the environments' train splits hold no rows");
  return pool;
}

export async function loadValidation(envs: readonly EnvironmentSpec[], maxPerEnv: number): Promise<PoolRow[]> {
  const out: PoolRow[] = [];
  for (const e of envs) if (e.validation) out.push(...stampAgent((await loadRows(e.validation)).slice(0, maxPerEnv), e.agent, "validation"));
  return out;
}

/** The pool visited epoch by epoch; `take` advances the position. */
export class PromptStream {
  private orderEpoch = -1;
  private order: number[] = [];
  position: DataPosition;

  constructor(
    readonly pool: readonly PoolRow[],
    readonly seed: number,
    readonly maxEpochs: number,
    start: DataPosition = { epoch: 0, cursor: 0 },
  ) {
    this.position = { ...start };
  }

  /** The visiting order of epoch e: a permutation fixed by (seed, e). */
  orderOf(epoch: number): number[] {
    if (this.orderEpoch !== epoch) {
      this.order = new Rng((this.seed * 1_000_003 + epoch * 7919 + 1) >>> 0).shuffle(this.pool.map((_, i) => i));
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  /** The next n rows (crossing into the next epoch), or fewer once maxEpochs are spent. */
  take(n: number): PoolRow[] {
    const out: PoolRow[] = [];
    while (out.length < n && this.position.epoch < this.maxEpochs) {
      const order = this.orderOf(this.position.epoch);
      out.push(this.pool[order[this.position.cursor]]);
      this.position.cursor++;
      if (this.position.cursor >= order.length) this.position = { epoch: this.position.epoch + 1, cursor: 0 };
    }
    return out;
  }
}
