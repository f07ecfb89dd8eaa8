/**
 * GRPO step time on the demo recipe (configs/grpo-calculator.yaml): real Gym servers, the embedded
 * engine and trainer, 16 prompts × 8 generations per step, split by phase (generation through Gym,
 * prev logprobs, training, refit), and end-to-end tokens/s (all tokens of the step's samples over
 * the step's wall time). Reports the mean of the steps after the first (a warm-up).
 * The policy: --init DIR (a checkpoint, e.g. runs/demo/sft), else runs/demo/sft when present, else
 * a quick 20-step SFT warm start on the calculator demonstrations (so rollouts look like the
 * demo's: a tool call, then an answer). Validation and checkpoints are off; samples with zero
 * advantage are kept (every sample is trained, the heavier case).
 * Last line (JSON): step_s, generation_s, logprobs_s, train_s, refit_s, tokens_per_s.
 * Run: npm run bench:grpo [-- --steps 3 --init runs/demo/sft]
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runSft } from "../src/sft/index.ts";
import { runGrpo } from "../src/grpo/loop.ts";
import { loadRecipe } from "../src/grpo/recipe.ts";

const { values } = parseArgs({ options: { steps: { type: "string", default: "3" }, init: { type: "string" } } });
const steps = Math.max(2, Number(values.steps));
const tmp = mkdtempSync(join(tmpdir(), "gymrl-bench-grpo-"));
const log = (l: string) => process.stderr.write(l + "\n");
try {
  let init = values.init ?? (existsSync("runs/demo/sft/checkpoint/config.json") ? "runs/demo/sft" : undefined);
  if (!init) {
    log("no --init and no runs/demo/sft: a 20-step SFT warm start first");
    const cfg = join(tmp, "sft.yaml");
    writeFileSync(cfg, "train:\n  steps: 20\n  warmup_steps: 5\n  held_out: 0\n  log_every: 10\n");
    runSft({ data: "src/environments/calculator/data/demonstrations.jsonl", config: cfg, out: join(tmp, "sft"), log });
    init = join(tmp, "sft");
  }
  const recipe = loadRecipe("configs/grpo-calculator.yaml", [
    `model.init=${init}`,
    `run.out_dir=${join(tmp, "run")}`,
    `grpo.max_num_steps=${steps}`,
    "grpo.val_at_start=false",
    "grpo.val_at_end=false",
    "grpo.val_period=0",
    "grpo.skip_zero_advantage_samples=false",
    "checkpointing.enabled=false",
  ]);
  const r = await runGrpo({ recipe, log });
  const timed = r.lines.filter((l) => typeof l.step === "number" && l.step > 1 && typeof l["timing/train/total_step_time"] === "number");
  const mean = (k: string) => timed.reduce((a, l) => a + Number(l[k] ?? 0), 0) / Math.max(1, timed.length);
  const out = {
    step_s: mean("timing/train/total_step_time"),
    generation_s: mean("timing/train/generation"),
    logprobs_s: mean("timing/train/policy_and_reference_logprobs"),
    train_s: mean("timing/train/policy_training"),
    refit_s: mean("timing/train/refit"),
    tokens_per_s: mean("performance/tokens_per_sec"),
  };
  const pct = (x: number) => `${((100 * x) / out.step_s).toFixed(0)}%`;
  console.log(`GRPO step (calculator, 16×8 rollouts, mean of steps 2..${steps}):`);
  console.log(`  generation ${out.generation_s.toFixed(2)}s (${pct(out.generation_s)})  logprobs ${out.logprobs_s.toFixed(2)}s (${pct(out.logprobs_s)})  train ${out.train_s.toFixed(2)}s (${pct(out.train_s)})  refit ${out.refit_s.toFixed(4)}s`);
  console.log(`  step ${out.step_s.toFixed(2)}s, ${mean("train/total_num_tokens").toFixed(0)} tokens/step, ${out.tokens_per_s.toFixed(0)} tokens/s end to end, ${mean("performance/generation_tokens_per_sec").toFixed(0)} generated tokens/s`);
  console.log(JSON.stringify(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Number(v.toFixed(4))]))));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
