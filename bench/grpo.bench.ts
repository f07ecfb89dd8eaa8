/**
 * GRPO step time on the demo recipe (configs/grpo-calculator.yaml): real Gym servers, the embedded
 * engine and trainer, the recipe's prompts × generations per step (--prompts overrides the
 * prompts), split by phase (generation through Gym, a separate prev-logprobs pass when the loop runs
 * one, training, refit). Reports the mean of the steps after the first (a warm-up).
 * Self-contained and the same on every run: the policy is a 20-step SFT warm start (seed 0) on the
 * calculator demonstrations made here, so rollouts look like the demo's (a tool call, then an
 * answer) whatever runs/ holds; --init DIR uses a given checkpoint instead. Validation and
 * checkpoints are off; samples with zero advantage are kept (every sample is trained).
 * Throughput, each with what it counts: generation_tokens_per_s = tokens the policy generated over
 * the generation phase; training_tokens_per_s = tokens of the trained samples over the training
 * phase; step_tokens_per_s = tokens of every sample over the whole step.
 * Then the same run with async GRPO (grpo.async_grpo, max_trajectory_age_steps --age, default 1,
 * in_flight_weight_updates --in-flight, default true), side by side: seconds per step (steps after
 * the first), the trainer's idle fraction (waiting for rollouts: the synchronous loop's generation
 * phase; async: async/trainer_wait_s) and the engine's (no batch to generate: the synchronous loop's
 * training phase; async: async/engine_wait_s, the producer held back by the age bound).
 * Last line (JSON): step_s, generation_s, logprobs_s (null when the loop ran no separate pass),
 * train_s, refit_s, generation_tokens_per_s, training_tokens_per_s, step_tokens_per_s (these of the
 * synchronous run), prompts_per_step, generations_per_prompt, sync_s_per_step, async_s_per_step,
 * sync_trainer_idle_frac, sync_engine_idle_frac, async_trainer_idle_frac, async_engine_idle_frac,
 * async_max_trajectory_age_steps, async_in_flight_weight_updates, async_dropped_groups,
 * async_trajectory_age_mean.
 * Run: npm run bench:grpo [-- --steps 3 --prompts 32 --init DIR --age 1 --in-flight true]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runGrpo } from "../src/grpo/loop.ts";
import { loadRecipe } from "../src/grpo/recipe.ts";
import { runSft } from "../src/sft/index.ts";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "3" },
    prompts: { type: "string" },
    init: { type: "string" },
    age: { type: "string", default: "1" },
    "in-flight": { type: "string", default: "true" },
  },
});
const steps = Math.max(2, Number(values.steps));
const tmp = mkdtempSync(join(tmpdir(), "gymrl-bench-grpo-"));
const log = (l: string) => process.stderr.write(l + "\n");
try {
  let init = values.init;
  if (!init) {
    log("policy: a 20-step SFT warm start (seed 0) on the calculator demonstrations");
    const cfg = join(tmp, "sft.yaml");
    writeFileSync(cfg, "train:\n  steps: 20\n  warmup_steps: 5\n  held_out: 0\n  log_every: 10\n  seed: 0\n");
    runSft({ data: "src/environments/calculator/data/demonstrations.jsonl", config: cfg, out: join(tmp, "sft"), log });
    init = join(tmp, "sft");
  }
  const common = [
    `model.init=${init}`,
    `grpo.max_num_steps=${steps}`,
    "grpo.val_at_start=false",
    "grpo.val_at_end=false",
    "grpo.val_period=0",
    "grpo.skip_zero_advantage_samples=false",
    "checkpointing.enabled=false",
    ...(values.prompts ? [`grpo.num_prompts_per_step=${Number(values.prompts)}`] : []),
  ];
  const recipe = loadRecipe("configs/grpo-calculator.yaml", [...common, `run.out_dir=${join(tmp, "run")}`]);
  const g = recipe.grpo;
  log("synchronous run");
  const r = await runGrpo({ recipe, log });
  const timed = r.lines.filter((l) => typeof l.step === "number" && l.step > 1 && typeof l["timing/train/total_step_time"] === "number");
  const mean = (k: string) => timed.reduce((a, l) => a + Number(l[k] ?? 0), 0) / Math.max(1, timed.length);
  // The loop runs a separate prev-logprobs pass only when it needs one (several optimizer steps per
  // rollout batch, sequence-level logprob masking, or a KL reference); otherwise the train step's
  // own forward, on the same weights, gives the prev logprobs, and there is no phase to time.
  const separatePass = timed.some(
    (l) =>
      Math.ceil(Number(l["train/num_trained_samples"]) / recipe.policy.train_global_batch_size) > 1 ||
      g.seq_logprob_error_threshold !== null ||
      !g.skip_reference_policy_logprobs_calculation,
  );
  const out = {
    step_s: mean("timing/train/total_step_time"),
    generation_s: mean("timing/train/generation"),
    logprobs_s: separatePass ? mean("timing/train/policy_and_reference_logprobs") : null,
    train_s: mean("timing/train/policy_training"),
    refit_s: mean("timing/train/refit"),
    generation_tokens_per_s: mean("performance/generation_tokens_per_sec"),
    training_tokens_per_s: mean("performance/policy_training_tokens_per_sec"),
    step_tokens_per_s: mean("performance/tokens_per_sec"),
  };
  const pct = (x: number) => `${((100 * x) / out.step_s).toFixed(0)}%`;
  const generated = mean("train/gen_tokens_per_sample/mean") * mean("train/num_samples");
  console.log(`GRPO step (calculator, ${g.num_prompts_per_step}×${g.num_generations_per_prompt} rollouts, mean of steps 2..${steps}):`);
  console.log(
    `  generation ${out.generation_s.toFixed(2)}s (${pct(out.generation_s)})  ` +
      (out.logprobs_s === null ? "logprobs: no separate pass (one optimizer step per batch: the train step's forward gives them)  " : `logprobs ${out.logprobs_s.toFixed(2)}s (${pct(out.logprobs_s)})  `) +
      `train ${out.train_s.toFixed(2)}s (${pct(out.train_s)})  refit ${out.refit_s.toFixed(4)}s`,
  );
  console.log(
    `  step ${out.step_s.toFixed(2)}s: ${mean("train/num_samples").toFixed(0)} samples, ${mean("train/total_num_tokens").toFixed(0)} tokens ` +
      `(${generated.toFixed(0)} generated), ${mean("train/num_trained_samples").toFixed(0)} samples trained`,
  );
  console.log(
    `  ${out.generation_tokens_per_s.toFixed(0)} generated tokens/s (generation phase), ${out.training_tokens_per_s.toFixed(0)} trained tokens/s ` +
      `(training phase), ${out.step_tokens_per_s.toFixed(0)} sample tokens/s over the whole step`,
  );
  // the same run, async
  const asyncRecipe = loadRecipe("configs/grpo-calculator.yaml", [
    ...common,
    `run.out_dir=${join(tmp, "run-async")}`,
    "loss_fn.use_importance_sampling_correction=true",
    "grpo.async_grpo.enabled=true",
    `grpo.async_grpo.max_trajectory_age_steps=${Number(values.age)}`,
    `grpo.async_grpo.in_flight_weight_updates=${values["in-flight"] === "true"}`,
  ]);
  log("async run");
  const ra = await runGrpo({ recipe: asyncRecipe, log });
  const timedA = ra.lines.filter((l) => typeof l.step === "number" && l.step > 1 && typeof l["timing/train/total_step_time"] === "number");
  const sum = (ls: typeof timed, k: string) => ls.reduce((a, l) => a + Number(l[k] ?? 0), 0);
  const syncStep = sum(timed, "timing/train/total_step_time");
  const asyncStep = sum(timedA, "timing/train/total_step_time");
  const sideBySide = {
    sync_s_per_step: syncStep / Math.max(1, timed.length),
    async_s_per_step: asyncStep / Math.max(1, timedA.length),
    sync_trainer_idle_frac: sum(timed, "timing/train/generation") / syncStep,
    sync_engine_idle_frac: 1 - sum(timed, "timing/train/generation") / syncStep,
    async_trainer_idle_frac: sum(timedA, "async/trainer_wait_s") / asyncStep,
    async_engine_idle_frac: sum(timedA, "async/engine_wait_s") / asyncStep,
    async_trajectory_age_mean: sum(timedA, "async/trajectory_age/mean") / Math.max(1, timedA.length),
  };
  console.log(
    `sync vs async (age ${asyncRecipe.grpo.async_grpo.max_trajectory_age_steps}, in-flight updates ${asyncRecipe.grpo.async_grpo.in_flight_weight_updates}): ` +
      `${sideBySide.sync_s_per_step.toFixed(2)} vs ${sideBySide.async_s_per_step.toFixed(2)} s/step; trainer idle ${(100 * sideBySide.sync_trainer_idle_frac).toFixed(0)}% vs ` +
      `${(100 * sideBySide.async_trainer_idle_frac).toFixed(0)}%; engine idle ${(100 * sideBySide.sync_engine_idle_frac).toFixed(0)}% vs ${(100 * sideBySide.async_engine_idle_frac).toFixed(0)}%; ` +
      `mean trajectory age ${sideBySide.async_trajectory_age_mean.toFixed(2)} steps`,
  );
  const round = (v: number | null) => (v === null ? null : Number(v.toFixed(4)));
  console.log(
    JSON.stringify({
      ...Object.fromEntries(Object.entries(out).map(([k, v]) => [k, round(v)])),
      prompts_per_step: g.num_prompts_per_step,
      generations_per_prompt: g.num_generations_per_prompt,
      ...Object.fromEntries(Object.entries(sideBySide).map(([k, v]) => [k, round(v)])),
      async_max_trajectory_age_steps: asyncRecipe.grpo.async_grpo.max_trajectory_age_steps,
      async_in_flight_weight_updates: asyncRecipe.grpo.async_grpo.in_flight_weight_updates,
      async_dropped_groups: sum(ra.lines, "async/dropped_groups"),
    }),
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
