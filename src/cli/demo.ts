/**
 * `gymrl demo` (also `npm run demo`): the main job on the embedded default: a short SFT warm start
 * of the demo model on the calculator environment's demonstrations, then GRPO through real Gym
 * servers, then (unless --no-control) the control: the warm start continued with SFT alone for as
 * long as GRPO's steps took, validated the same way (src/grpo/demo.ts). Ends with one JSON line:
 * val_accuracy_before, val_accuracy_after, control_val_accuracy, the time figures, not_measured,
 * minutes, max_token_mult_prob_error, contiguity_breaks, run_dir. Extra `key=value` arguments
 * override the GRPO recipe (e.g. `grpo.max_num_steps=10`).
 */
import { defineCommand } from "citty";
import { type DemoEnvironment, runDemo } from "../grpo/demo.ts";
import { overridesOf } from "./train.ts";

const demoCommand = defineCommand({
  meta: { name: "demo", description: "SFT warm start + GRPO on the calculator environment through Gym, and an SFT-only control; prints validation accuracy before/after/control" },
  args: {
    env: { type: "string", description: "calculator (default), arithmetic or workplace (workplace_assistant: configs/grpo-workplace.yaml)" },
    out: { type: "string", description: "run directory (default runs/demo)" },
    config: { type: "string", description: "GRPO recipe (default configs/grpo-calculator.yaml)" },
    "sft-config": { type: "string", description: "SFT settings (default configs/sft-demo.yaml); a comma-separated list runs phases, each from the one before" },
    data: { type: "string", description: "demonstration chats JSONL (default the calculator's)" },
    init: { type: "string", description: "warm-start this model instead of a fresh demo model: a Hugging Face Qwen3 / Llama 3 directory (its tokenizer and chat template are used) or a gymrl run directory" },
    seed: { type: "string", description: "seed of the SFT warm start and of GRPO (default each config's own, 0)" },
    trainer: { type: "string", description: "embedded (default) or torch: the PyTorch worker trains (trainer.backend)" },
    generation: { type: "string", description: "embedded (default), sglang or vllm: generate on a pool of gymrl serve replicas (generation.backend)" },
    replicas: { type: "string", description: "with --generation sglang|vllm: gymrl serve replicas the run starts (default 2)" },
    control: {
      type: "boolean",
      default: true,
      description: "also continue the warm start with SFT alone for GRPO's step time and validate it (control_val_accuracy)",
      negativeDescription: "skip the SFT-only control",
    },
  },
  async run({ args, rawArgs }) {
    if (args.env !== undefined && !["calculator", "arithmetic", "workplace"].includes(args.env)) {
      console.error(`--env must be calculator, arithmetic or workplace, got ${args.env}`);
      process.exitCode = 1;
      return;
    }
    const seed = args.seed === undefined ? undefined : Number(args.seed);
    if (seed !== undefined && !Number.isInteger(seed)) {
      console.error(`--seed must be an integer, got ${args.seed}`);
      process.exitCode = 1;
      return;
    }
    const r = await runDemo({
      seed,
      env: args.env as DemoEnvironment | undefined,
      out: args.out,
      recipe: args.config,
      sftConfig: args["sft-config"]?.split(","),
      demonstrations: args.data,
      init: args.init,
      overrides: [...backendOverrides(args), ...overridesOf(rawArgs)],
      control: args.control,
    });
    console.log(JSON.stringify(r));
  },
});

/** --trainer / --generation / --replicas as recipe overrides (the recipe validates the values). */
function backendOverrides(args: { trainer?: string; generation?: string; replicas?: string }): string[] {
  const out: string[] = [];
  if (args.trainer) out.push(`trainer.backend=${args.trainer}`);
  if (args.generation) out.push(`generation.backend=${args.generation}`);
  if (args.generation && args.generation !== "embedded") out.push(`generation.replicas=${args.replicas ?? 2}`);
  return out;
}

export default demoCommand;
