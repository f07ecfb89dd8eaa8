/**
 * The rollouts each GRPO step trained on, written to RUN/rollouts/step_NNNNNN.jsonl (one file per
 * step, one JSON line per rollout) so the run viewer (src/view) can open any step by reading one
 * small file, however long the run. Each line keeps what a person debugging the step needs and
 * nothing the loop can recompute: the conversation items (tool calls and outputs, without their
 * token fields), the reward and the environment's other verify fields, and per sample the token
 * ids, their text pieces, the loss mask and the sampler's and the trainer's logprob of each token.
 * Not here: the human-readable `dump_rollouts` file (loop.ts), the metrics (metrics-log.ts).
 *
 * Compact on purpose: the mask is a "0"/"1" string, logprobs are rounded to 4 decimals, and a
 * rollout's text is stored once, as per-token pieces (their concatenation is the decoded sample).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StepBatch } from "./step-batch.ts";
import type { ScoredRollout } from "./step-rewards.ts";

/** One trained sample (a rollout has more than one only when a prefix break split it). */
export interface TrainedSampleRecord {
  segment: number;
  /** (T,) token ids */
  ids: number[];
  /** (T,) text of each token; "" on a token that only completes with the next (split UTF-8); null without a tokenizer */
  text: string[] | null;
  /** (T,) "1" where the loss sees the token (sampled), "0" on context */
  mask: string;
  /** (T,) the sampler's logprob of each token, 0 on context */
  gen_lp: number[];
  /** (T,) the trainer's logprob of each token before the update, null when the sample was not in the batch */
  train_lp: number[] | null;
  /** the advantage the loss used, null when the sample was left out (zero advantage skipped) */
  advantage: number | null;
  truncated: boolean;
  /** the loss's per-sample multiplier (0: filtered by mask_sample, overlong filtering, no trainable token) */
  sample_mask: number | null;
}

/** One line of a step file: a rollout the step trained on. */
export interface TrainedRolloutRecord {
  step: number;
  /** prompt group within the step */
  group: number;
  /** the agent (environment) that ran it */
  agent: string;
  task: number | null;
  rollout: number | null;
  /** the environment's reward, and the reward the advantages used (after scaling and shaping) */
  env_reward: number;
  reward: number;
  /** the verify response's other fields (reward_components, extracted answers, judge output, ...) */
  extra: Record<string, unknown>;
  /** the prompt items (responses_create_params.input) */
  input: unknown[];
  /** response.output without token fields: messages, reasoning, function calls and their outputs */
  output: Record<string, unknown>[];
  samples: TrainedSampleRecord[];
  /** a failure scored as reward 0 (nothing was trained) */
  failed: boolean;
}

export const ROLLOUTS_DIR = "rollouts";
const STEP_FILE = /^step_(\d+)\.jsonl$/;
const TOKEN_FIELDS = new Set(["prompt_token_ids", "generation_token_ids", "generation_log_probs"]);
// verify fields shown elsewhere in the record, or bulky and already in `input` / `output`
const NOT_EXTRA = new Set(["response", "reward", "responses_create_params", "agent_ref"]);

export function stepFileName(step: number): string {
  return `step_${String(step).padStart(6, "0")}.jsonl`;
}

const round4 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : 0);

/**
 * Text of each token such that the pieces concatenate to the decoded sequence. A token whose own
 * decode holds U+FFFD (part of a UTF-8 character) is decoded together with the following tokens,
 * up to 4 (the longest UTF-8 character), and the text goes on the token that completes it.
 */
export function tokenPieces(ids: readonly number[], decode: (ids: number[]) => string): string[] {
  const single = new Map<number, string>();
  const one = (id: number) => {
    let s = single.get(id);
    if (s === undefined) single.set(id, (s = decode([id])));
    return s;
  };
  const out: string[] = [];
  let pending = -1; // first token of an incomplete character
  for (let i = 0; i < ids.length; i++) {
    if (pending < 0) {
      const s = one(ids[i]);
      if (!s.includes("\uFFFD")) {
        out.push(s);
        continue;
      }
      pending = i;
    }
    const t = decode(ids.slice(pending, i + 1) as number[]);
    if (t.endsWith("\uFFFD") && i - pending < 3 && i + 1 < ids.length) {
      out.push("");
      continue;
    }
    out.push(t);
    pending = -1;
  }
  return out;
}

/**
 * The step's trained rollouts as records. `trainerLogprobs` is (N,) over the packed batch of `sb`
 * (the trainer's logprobs before the update); `decode` turns ids into text (the policy's tokenizer).
 */
export function trainedRolloutRecords(
  step: number,
  rollouts: readonly ScoredRollout[],
  sb: Pick<StepBatch, "samples" | "sampleAdvantages" | "batch">,
  trainerLogprobs: Float64Array | null,
  decode?: (ids: number[]) => string,
): TrainedRolloutRecord[] {
  // a sample's place in the packed batch, by identity (samples skipped for zero advantage have none)
  const where = new Map(sb.samples.map((s, i) => [s, i] as const));
  const { seqOffsets, sampleMask } = sb.batch;
  return rollouts.map((r) => {
    const result = (r.ok?.result ?? {}) as Record<string, unknown>;
    const response = result.response as { output?: Record<string, unknown>[] } | undefined;
    const params = (r.ok?.row.responses_create_params ?? result.responses_create_params) as { input?: unknown } | undefined;
    const input = typeof params?.input === "string" ? [{ role: "user", content: params.input }] : Array.isArray(params?.input) ? params.input : [];
    const extra = Object.fromEntries(Object.entries(result).filter(([k]) => !NOT_EXTRA.has(k) && !k.startsWith("_ng_")));
    const samples = (r.ok?.conversion.samples ?? []).map((s): TrainedSampleRecord => {
      const i = where.get(s);
      const ids = Array.from(s.tokens);
      return {
        segment: s.segment,
        ids,
        text: decode ? tokenPieces(ids, decode) : null,
        mask: Array.from(s.lossMask, (m) => (m ? "1" : "0")).join(""),
        gen_lp: Array.from(s.generationLogprobs, round4),
        train_lp: i !== undefined && trainerLogprobs ? Array.from(trainerLogprobs.subarray(seqOffsets[i], seqOffsets[i + 1]), round4) : null,
        advantage: i !== undefined ? sb.sampleAdvantages[i] : null,
        truncated: s.truncated,
        sample_mask: i !== undefined ? sampleMask[i] : null,
      };
    });
    return {
      step,
      group: r.group,
      agent: r.agent,
      task: r.ok?.taskIndex ?? null,
      rollout: r.ok?.rolloutIndex ?? null,
      env_reward: r.envReward,
      reward: r.reward,
      extra,
      input,
      output: (response?.output ?? []).map((it) => Object.fromEntries(Object.entries(it).filter(([k]) => !TOKEN_FIELDS.has(k)))),
      samples,
      failed: r.ok === null,
    };
  });
}

/** Writes a step's file whole (temp file + rename), so a reader never sees half a step. */
export function writeTrainedRollouts(runDir: string, step: number, records: readonly TrainedRolloutRecord[]): string {
  const dir = join(runDir, ROLLOUTS_DIR);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, stepFileName(step));
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, records.map((r) => JSON.stringify(r) + "\n").join(""));
  renameSync(tmp, path);
  return path;
}

/** The steps with a rollouts file, ascending. */
export function listTrainedRolloutSteps(runDir: string): number[] {
  const dir = join(runDir, ROLLOUTS_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((f) => {
      const m = STEP_FILE.exec(f);
      return m ? [Number(m[1])] : [];
    })
    .sort((a, b) => a - b);
}

/** Removes the step files after `maxStep`: a resume redoes those steps, a fresh start (0) all of them. */
export function pruneTrainedRollouts(runDir: string, maxStep: number): void {
  for (const s of listTrainedRolloutSteps(runDir)) if (s > maxStep) rmSync(join(runDir, ROLLOUTS_DIR, stepFileName(s)));
}

/** A step's records; lines that do not parse (a cut write, a foreign edit) are counted, not thrown. */
export function readTrainedRollouts(runDir: string, step: number): { records: TrainedRolloutRecord[]; badLines: number } | null {
  const path = join(runDir, ROLLOUTS_DIR, stepFileName(step));
  if (!existsSync(path)) return null;
  const records: TrainedRolloutRecord[] = [];
  let badLines = 0;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      records.push(JSON.parse(line) as TrainedRolloutRecord);
    } catch {
      badLines++;
    }
  }
  return { records, badLines };
}
