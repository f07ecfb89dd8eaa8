/**
 * The GRPO loop over real Gym servers (NeMo RL `grpo_train` with NeMo Gym): synchronous as below, or
 * with grpo.async_grpo a producer generating ahead (async/source.ts) in place of step 2. For the
 * embedded default: one process holds the trainer (this thread), the generation engine (a worker
 * thread, computing on the trainer's parameter buffer), the OpenAI-compatible server over the engine,
 * and the Gym head server; Gym's servers (simple_agent, the environment's resources server, the
 * vllm_model proxy whose `policy_base_url` is our server) are child processes started by startGym.
 *
 * One step:
 *   1. prompts: the next num_prompts_per_step rows (data.ts), each repeated num_generations times;
 *   2. generation: every rollout through its agent's /run (rollout/stream.ts), results → token
 *      samples with loss masks and the sampler's logprobs (rollout/trajectory.ts);
 *   3. prev logprobs (the trainer, pre-update weights) and optional reference logprobs;
 *   4. leave-one-out advantages per prompt group, broadcast to each rollout's generated tokens;
 *   5. one or more optimizer steps (train_global_batch_size samples each); each step's write is
 *      the refit: the engine pauses between decode steps, the weights change in place, the policy
 *      version goes up by one (trainer.ts);
 *   6. metrics (metrics.jsonl, console, plot.html), validation when due, checkpoint when due.
 * Not here: starting the trainer, engine, server and Gym (policy-stack.ts), the loss and advantages
 * (pure functions beside this file), the servers themselves.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { stringify as toYaml } from "yaml";
import type { DrainedEngine } from "../engine/drained-updates.ts";
import { deriveSeed } from "../model/derive-seed.ts";
import { learningRate, type LrSchedule } from "../model/optimizer.ts";
import type { RolloutOutcome } from "../rollout/outcome.ts";
import { expandRows, type Row } from "../rollout/rows.ts";
import { streamRollouts } from "../rollout/stream.ts";
import { summarize } from "../rollout/stats.ts";
import type { Tokenizer } from "../tokenizer/index.ts";
import { broadcastToTokens } from "./advantages.ts";
import { AsyncRolloutSource } from "./async/source.ts";
import { crashPoint, findLatestCheckpoint, saveRunCheckpoint, type LoopState } from "./checkpoint.ts";
import { loadTrainPool, loadValidation, PromptStream, type PoolRow } from "./data.ts";
import { rolloutMetrics, trainMetrics, validationMetrics, type ValidationResult } from "./loop-metrics.ts";
import { throughputMetrics } from "./metrics.ts";
import { appendJsonl, readJsonl, summaryLine, truncateJsonl, type MetricsLine } from "./metrics-log.ts";
import { writePlot } from "./plot.ts";
import { lossConfigOf, type Recipe } from "./recipe.ts";
import { startPolicyStack, type PolicyStack } from "./policy-stack.ts";
import { lockRunDir } from "./run-lock.ts";
import { seqLogprobErrorMask } from "./sample-filters.ts";
import { assembleStepBatch, sliceBatch } from "./step-batch.ts";
import { rewardSettingsOf } from "./step-rewards.ts";
import { gatherStepRollouts } from "./step-rollouts.ts";
import { pruneTrainedRollouts, trainedRolloutRecords, writeTrainedRollouts } from "./trained-rollouts.ts";
import type { TrainBatch } from "./trainer.ts";


// ------------------------------------------------------------------------------------------------
// rollouts

export interface Collected {
  outcomes: RolloutOutcome[];
  seconds: number;
}

/**
 * Which sampling seeds a collection uses: every rollout's seed is derived from (run seed, what
 * is collected, step, generation batch, prompt, generation), so concurrency and arrival order do
 * not change which random numbers a sequence gets, and a resumed run draws what the uninterrupted
 * one drew. It reaches the engine as the OpenAI request's `seed` (vLLM's per-request seed).
 */
export interface SeedScope {
  purpose: "train" | "validation";
  step: number;
  batch: number;
}

const PURPOSE_CODE = { train: 1, validation: 2 } as const;

export function rolloutSeed(runSeed: number, scope: SeedScope, taskIndex: number, rolloutIndex: number): number {
  return deriveSeed(runSeed, PURPOSE_CODE[scope.purpose], scope.step, scope.batch, taskIndex, rolloutIndex);
}

async function collect(stack: PolicyStack, recipe: Recipe, rows: Row[], numRepeats: number, sampling: { temperature: number; top_p: number }, scope: SeedScope, signal?: AbortSignal): Promise<Collected> {
  const t0 = performance.now();
  const requests = expandRows(rows, {
    numRepeats,
    samplingParams: { ...sampling, max_output_tokens: recipe.policy.generation.max_new_tokens },
    seedOf: (task, rollout) => rolloutSeed(recipe.run.seed, scope, task, rollout),
  });
  const outcomes: RolloutOutcome[] = [];
  for await (const o of streamRollouts(stack.gym.client, requests, {
    concurrency: recipe.rollout.concurrency,
    deadlineMs: recipe.rollout.timeout_s * 1000,
    retries: recipe.rollout.max_retries,
    trajectory: { onPrefixBreak: "split", maxModelLen: stack.engine.maxModelLen },
    signal,
  }))
    outcomes.push(o);
  // A Gym server that died fails every rollout from then on: stop before this batch is trained on,
  // logged or checkpointed, so a resume redoes it from the last complete checkpoint (GymServerError
  // names the server and its last output).
  stack.gym.check();
  // back in request order: (task, rollout)
  outcomes.sort((a, b) => a.taskIndex - b.taskIndex || a.rolloutIndex - b.rolloutIndex);
  return { outcomes, seconds: (performance.now() - t0) / 1000 };
}

/** Validation accuracy overall and per agent; a failed rollout counts as reward 0 (it did not succeed). */
function rewardsByAgent(outcomes: RolloutOutcome[]): { mean: number; perAgent: Record<string, number> } {
  const by = new Map<string, number[]>();
  for (const o of outcomes) {
    const r = o.kind === "ok" ? Number(o.result.reward ?? 0) : 0;
    by.set(o.agent, [...(by.get(o.agent) ?? []), r]);
  }
  const all = [...by.values()].flat();
  const perAgent: Record<string, number> = {};
  for (const [a, rs] of by) perAgent[a] = rs.reduce((x, y) => x + y, 0) / rs.length;
  return { mean: all.length ? all.reduce((x, y) => x + y, 0) / all.length : 0, perAgent };
}

/** Validation after `step` GRPO steps (0: before the first). */
export async function validate(stack: PolicyStack, recipe: Recipe, rows: PoolRow[], step = 0): Promise<ValidationResult> {
  const g = recipe.policy.generation;
  const { outcomes, seconds } = await collect(stack, recipe, rows.map((r) => r.row), 1, { temperature: g.val_temperature, top_p: g.val_top_p }, { purpose: "validation", step, batch: 0 });
  if (recipe.run.dump_rollouts > 0) dumpRollouts(join(resolve(recipe.run.out_dir), "validation_rollouts.jsonl"), step, outcomes.slice(0, recipe.run.dump_rollouts), stack.tokenizer);
  const { mean, perAgent } = rewardsByAgent(outcomes);
  const lengths = outcomes.flatMap((o) => (o.kind === "ok" ? o.conversion.samples.map((s) => s.lossMask.reduce((a, b) => a + b, 0)) : []));
  const failed = outcomes.filter((o) => o.kind === "failed").length;
  return { accuracy: mean, perAgent, avgLength: summarize(lengths).mean, seconds, n: outcomes.length, failed };
}

// ------------------------------------------------------------------------------------------------
// the run

export interface GrpoRunOptions {
  recipe: Recipe;
  /** continue from the run directory's latest checkpoint (a fresh start when there is none) */
  resume?: boolean;
  /** progress lines (default stdout) */
  log?: (line: string) => void;
  onGymOutput?: (server: string, line: string) => void;
  /** the stack to use instead of starting one from model.init (bench, demo); not closed by the run */
  stack?: PolicyStack;
}

export interface GrpoRunResult {
  runDir: string;
  steps: number;
  lines: MetricsLine[];
  valAccuracyFirst: number | null;
  valAccuracyLast: number | null;
  maxTokenMultProbError: number;
  contiguityBreaks: number;
  minutes: number;
}

export async function runGrpo(opts: GrpoRunOptions): Promise<GrpoRunResult> {
  const runDir = resolve(opts.recipe.run.out_dir);
  mkdirSync(runDir, { recursive: true });
  // held until the run ends however it ends (a failed start included)
  const releaseLock = lockRunDir(runDir, opts.log ?? ((l: string) => process.stdout.write(l + "\n")));
  try {
    return await runLocked(opts);
  } finally {
    releaseLock();
  }
}

async function runLocked(opts: GrpoRunOptions): Promise<GrpoRunResult> {
  const { recipe } = opts;
  const log = opts.log ?? ((l: string) => process.stdout.write(l + "\n"));
  const t0 = performance.now();
  const runDir = resolve(recipe.run.out_dir);
  mkdirSync(runDir, { recursive: true });
  const metricsPath = join(runDir, "metrics.jsonl");
  const promptsPath = join(runDir, "prompts.jsonl");
  const plotPath = join(runDir, "plot.html");

  // where to start: a checkpoint of this run, or model.init
  const found = opts.resume ? findLatestCheckpoint(runDir) : null;
  if (opts.resume && !found) log(`resume: no checkpoint in ${runDir}; starting from model.init`);
  if (!found) {
    writeFileSync(metricsPath, "");
    writeFileSync(promptsPath, "");
  } else {
    truncateJsonl(metricsPath, found.state.step);
    truncateJsonl(promptsPath, found.state.step);
    // rollouts dumped by the steps the resumed run redoes would otherwise appear twice
    truncateJsonl(join(runDir, "rollouts.jsonl"), found.state.step);
    log(`resume: step ${found.state.step} from ${found.dir}`);
  }
  pruneTrainedRollouts(runDir, found?.state.step ?? 0); // step files of a run this one replaces
  writeFileSync(join(runDir, "recipe.resolved.yaml"), toYaml(recipe));
  const initDir = found ? found.policyDir : recipe.model.init;
  if (!initDir && !opts.stack) throw new Error("model.init is required (a checkpoint directory, e.g. from `gymrl sft`)");

  const pool = await loadTrainPool(recipe.environments);
  const valRows = await loadValidation(recipe.environments, recipe.grpo.max_val_samples);
  const g = recipe.grpo;
  const stream = new PromptStream(pool, recipe.run.seed, g.max_num_epochs, found?.state.data);
  const state: LoopState = found?.state ?? {
    step: 0,
    data: { epoch: 0, cursor: 0 },
    seed: recipe.run.seed,
    policyVersion: 0,
    optimizerSteps: 0,
    elapsedS: 0,
  };
  const elapsedBefore = state.elapsedS;

  const stack = opts.stack ?? (await startPolicyStack(recipe, { initDir: initDir!, onGymOutput: opts.onGymOutput, restoreOptimizer: !!found, runDir }));
  if (opts.stack && found) {
    // a stack started elsewhere resumes: restore the trainer, then push its weights to the engine
    await stack.trainer.load(found.policyDir);
    await stack.refit();
  }
  // A resumed run's engine counts weight versions from its own start: continue the run's count.
  const versionOffset = (found?.state.policyVersion ?? 0) - (stack.engine.policyVersion ?? 0);
  const lossCfg = lossConfigOf(recipe);
  const rewardSettings = rewardSettingsOf(recipe, stack.engine.maxModelLen);
  const schedule: LrSchedule = {
    lr: recipe.policy.optimizer.lr,
    warmupSteps: recipe.policy.scheduler.warmup_steps,
    totalSteps: Math.max(1, g.max_num_steps * Math.ceil((g.num_prompts_per_step * g.num_generations_per_prompt) / recipe.policy.train_global_batch_size)),
    schedule: recipe.policy.scheduler.schedule,
    minLrRatio: recipe.policy.scheduler.min_lr_ratio,
  };
  // async GRPO (grpo.async_grpo): a producer generates ahead into a buffer; the step takes from it
  const trainSampling = { temperature: recipe.policy.generation.temperature, top_p: recipe.policy.generation.top_p };
  const asyncSource = g.async_grpo.enabled
    ? new AsyncRolloutSource({
        stream,
        numPromptsPerStep: g.num_prompts_per_step,
        maxAge: g.async_grpo.max_trajectory_age_steps,
        generate: async (prompts, b, signal) => (await collect(stack, recipe, prompts.map((p) => p.row), g.num_generations_per_prompt, trainSampling, { purpose: "train", step: b, batch: 0 }, signal)).outcomes,
        lookup: (b, startVersion) => ({
          ledger: stack.ledger ?? null,
          seedOf: (task, rollout) => rolloutSeed(recipe.run.seed, { purpose: "train", step: b, batch: 0 }, task, rollout),
          startVersion,
          versionOffset,
        }),
        currentVersion: () => (stack.engine.policyVersion ?? state.policyVersion - versionOffset) + versionOffset,
        rewards: rewardSettings,
        updateWaits: "waits" in stack.engine ? () => (stack.engine as DrainedEngine).waits : undefined,
        startStep: state.step,
        startVersion: state.policyVersion,
      })
    : null;
  log(
    `grpo: ${pool.length} train rows, ${valRows.length} validation rows, ${g.num_prompts_per_step}×${g.num_generations_per_prompt} rollouts/step, ` +
      `${(stack.trainer.numParams / 1e6).toFixed(2)}M params, ${stack.backend.description}, run dir ${runDir}`,
  );

  const lines: MetricsLine[] = readJsonl(metricsPath);
  let valFirst: number | null = lines.find((l) => typeof l["validation/accuracy"] === "number")?.["validation/accuracy"] as number | null ?? null;
  let valLast: number | null = [...lines].reverse().find((l) => typeof l["validation/accuracy"] === "number")?.["validation/accuracy"] as number | null ?? null;
  try {
    // validation before the first step (reported as step 0)
    if (g.val_at_start && state.step === 0 && valRows.length > 0) {
      const v = await validate(stack, recipe, valRows);
      const line: MetricsLine = { step: 0, ...validationMetrics(v) };
      appendJsonl(metricsPath, line);
      lines.push(line);
      valFirst = v.accuracy;
      valLast = v.accuracy;
      log(`step 0 | val ${v.accuracy.toFixed(3)} (${v.n} rows, ${v.seconds.toFixed(1)}s)`);
    }

    while (state.step < g.max_num_steps) {
      const stepStart = performance.now();
      // 1-2. generation through Gym (several batches with dynamic sampling), rewards per the recipe
      let genS = 0;
      let genBatch = 0;
      const tGen = performance.now();
      const gathered = asyncSource ? await asyncSource.next(state.step + 1) : await gatherStepRollouts({
        numPromptsPerStep: g.num_prompts_per_step,
        take: (n) => stream.take(n),
        generate: async (prompts) => {
          const c = await collect(stack, recipe, prompts.map((p) => p.row), g.num_generations_per_prompt, {
            temperature: recipe.policy.generation.temperature,
            top_p: recipe.policy.generation.top_p,
          }, { purpose: "train", step: state.step + 1, batch: genBatch++ });
          genS += c.seconds;
          return c.outcomes;
        },
        rewards: rewardSettings,
        dynamicSampling: { enabled: g.use_dynamic_sampling, maxGenBatches: g.dynamic_sampling_max_gen_batches, batchMultiplier: g.batch_multiplier },
      });
      if (asyncSource) genS = (performance.now() - tGen) / 1000; // the trainer's wait for data
      if (!gathered) {
        log(`data exhausted after ${g.max_num_epochs} epoch(s)`);
        break;
      }
      const { outcomes, prompts: picked } = gathered;
      const step = state.step + 1;
      const m: MetricsLine = { step };
      const sb = assembleStepBatch(gathered.trained, recipe);
      const S = sb.samples.length;
      const adv = broadcastToTokens(sb.sampleAdvantages, sb.batch.seqOffsets, sb.batch.tokenMask);
      const batch: TrainBatch = { ...sb.batch, advantages: adv };

      // 3. prev and reference logprobs. With one optimizer step per rollout batch, the train
      // step's own forward runs on the same weights and gives the same numbers: no extra pass.
      const tLp = performance.now();
      const numMini = Math.ceil(S / recipe.policy.train_global_batch_size);
      if (S > 0 && (numMini > 1 || g.seq_logprob_error_threshold !== null)) batch.prevLogprobs = (await stack.trainer.logprobs(batch)).logprobs;
      if (S > 0 && stack.reference) batch.refLogprobs = (await stack.reference.logprobs(batch)).logprobs;
      if (S > 0 && batch.prevLogprobs && g.seq_logprob_error_threshold !== null) {
        const rewards = sb.samples.map((s) => s.reward);
        const e = seqLogprobErrorMask(batch, batch.prevLogprobs, batch.generationLogprobs, rewards, g.seq_logprob_error_threshold);
        batch.sampleMask = e.sampleMask;
        m["train/num_masked_seqs_by_logprob_error"] = e.numMaskedSeqsByLogprobError;
        m["train/masked_correct_pct"] = e.maskedCorrectPct;
      }
      const lpS = (performance.now() - tLp) / 1000;

      // 4-5. optimizer steps (each one a refit of the engine)
      const tTrain = performance.now();
      const stepMetrics: Record<string, number>[] = [];
      const currAll = new Float64Array(batch.tokens.length);
      for (let k = 0; k < numMini; k++) {
        const a = k * recipe.policy.train_global_batch_size;
        const e = Math.min(S, a + recipe.policy.train_global_batch_size);
        const mb = sliceBatch(batch, a, e);
        const lr = learningRate(state.optimizerSteps, schedule);
        const r = await stack.trainer.trainStep(mb, lossCfg, { lr });
        currAll.set(r.currLogprobs, batch.seqOffsets[a]);
        state.optimizerSteps++;
        stepMetrics.push({ ...(r.metrics as unknown as Record<string, number>), gradNorm: r.gradNorm, lr });
      }
      // new weights to the engine (colocated: the optimizer steps above already wrote them)
      const refit = await stack.refit();
      const refitS = refit.seconds;
      const trainS = (performance.now() - tTrain) / 1000 - refitS;
      state.policyVersion = refit.policyVersion + versionOffset;
      state.step = step;
      state.data = asyncSource ? asyncSource.position : { ...stream.position };
      asyncSource?.stepDone(step, state.policyVersion);

      // 6. metrics
      Object.assign(m, rolloutMetrics(gathered, sb, g.use_dynamic_sampling));
      Object.assign(m, trainMetrics(stepMetrics, batch, batch.prevLogprobs ?? currAll));
      m["train/policy_version"] = state.policyVersion;
      if (asyncSource) Object.assign(m, asyncSource.stepMetrics());
      const stepS = (performance.now() - stepStart) / 1000;
      // every sample the rollouts produced, not only those kept for training
      const all = outcomes.flatMap((o) => (o.kind === "ok" ? o.conversion.samples : []));
      Object.assign(m, {
        "timing/train/generation": genS,
        "timing/train/policy_and_reference_logprobs": lpS,
        "timing/train/policy_training": trainS,
        "timing/train/refit": refitS,
        "timing/train/total_step_time": stepS,
        ...throughputMetrics({
          sampleTokens: all.reduce((a, s) => a + s.tokens.length, 0),
          generatedTokens: all.reduce((a, s) => a + s.lossMask.reduce((x, y) => x + y, 0), 0),
          trainedTokens: batch.tokens.length,
          generationS: genS,
          trainingS: trainS,
          stepS,
        }),
      });

      // validation
      const last = state.step >= g.max_num_steps;
      if (valRows.length > 0 && ((g.val_period > 0 && step % g.val_period === 0) || (last && g.val_at_end))) {
        const v = await validate(stack, recipe, valRows, step);
        Object.assign(m, validationMetrics(v));
        valFirst ??= v.accuracy;
        valLast = v.accuracy;
      }
      m["timing/train/total_with_validation"] = (performance.now() - stepStart) / 1000;
      m.elapsed_s = elapsedBefore + (performance.now() - t0) / 1000;
      appendJsonl(metricsPath, m);
      appendJsonl(promptsPath, { step, prompts: picked.map((p) => p.id) });
      // what the step trained on, token by token, for `gymrl view` (trained-rollouts.ts)
      const decode = stack.tokenizer ? (ids: number[]) => stack.tokenizer.decode(ids) : undefined;
      writeTrainedRollouts(runDir, step, trainedRolloutRecords(step, gathered.trained, sb, batch.prevLogprobs ?? currAll, decode));
      if (recipe.run.dump_rollouts > 0) dumpRollouts(join(runDir, "rollouts.jsonl"), step, outcomes.slice(0, recipe.run.dump_rollouts), stack.tokenizer);
      lines.push(m);
      writePlot(plotPath, lines, `GRPO: ${runDir}`);
      if (step % recipe.run.log_every === 0 || last) log(summaryLine(m, g.max_num_steps));
      crashPoint("after_step", step);

      // checkpoint
      if (recipe.checkpointing.enabled && (step % recipe.checkpointing.save_period === 0 || last)) {
        const tCk = performance.now();
        state.elapsedS = elapsedBefore + (performance.now() - t0) / 1000;
        await saveRunCheckpoint(runDir, stack.trainer, state, recipe.checkpointing.keep);
        m["timing/train/checkpointing"] = (performance.now() - tCk) / 1000;
      }
    }
  } finally {
    await asyncSource?.close();
    if (!opts.stack) await stack.close();
  }
  writePlot(plotPath, lines, `GRPO: ${runDir}`);
  const nums = (k: string) => lines.flatMap((l) => (typeof l[k] === "number" ? [l[k] as number] : []));
  return {
    runDir,
    steps: state.step,
    lines,
    valAccuracyFirst: valFirst,
    valAccuracyLast: valLast,
    maxTokenMultProbError: Math.max(0, ...nums("train/token_mult_prob_error")),
    contiguityBreaks: nums("train/contiguity_breaks").reduce((a, b) => a + b, 0),
    minutes: (performance.now() - t0) / 60000,
  };
}

/** Gym results for a person to read: the output items without their token fields. */
function dumpRollouts(path: string, step: number, outcomes: RolloutOutcome[], tok?: Tokenizer): void {
  const TOKEN_FIELDS = new Set(["prompt_token_ids", "generation_token_ids", "generation_log_probs"]);
  for (const o of outcomes) {
    if (o.kind !== "ok") {
      appendJsonl(path, { step, task: o.taskIndex, rollout: o.rolloutIndex, failed: o.errorClass, message: o.message });
      continue;
    }
    const response = o.result.response as { output?: Record<string, unknown>[] } | undefined;
    const output = (response?.output ?? []).map((it) => Object.fromEntries(Object.entries(it).filter(([k]) => !TOKEN_FIELDS.has(k))));
    // the first model call's prompt as the engine saw it: template drift shows here
    const first = (response?.output ?? []).find((it) => Array.isArray(it.prompt_token_ids));
    const prompt = tok && first ? tok.decode(first.prompt_token_ids as number[]) : undefined;
    appendJsonl(path, { step, task: o.taskIndex, rollout: o.rolloutIndex, reward: o.result.reward, output, ...(prompt !== undefined ? { prompt } : {}) });
  }
}
