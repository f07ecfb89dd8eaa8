/**
 * `gymrl train --config recipe.yaml [key=value ...] [--resume]`: GRPO through real Gym servers
 * (src/grpo/loop.ts). The recipe holds the Gym config, the model, the algorithm and the schedule;
 * every field can be overridden as `dotted.key=value` (e.g. `grpo.max_num_steps=5`). With
 * --resume, the run continues from its directory's latest checkpoint, with the exact next prompt.
 */
import { defineCommand } from "citty";
import { runGrpo } from "../grpo/loop.ts";
import { loadRecipe, RecipeError } from "../grpo/recipe.ts";

/** The positional `key=value` overrides from the raw argv (flags and their values skipped). */
export function overridesOf(rawArgs: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i];
    if (a === "--config" || a === "-c") {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    if (a.includes("=")) out.push(a);
  }
  return out;
}

const trainCommand = defineCommand({
  meta: { name: "train", description: "GRPO training through Gym environments (recipe YAML + key=value overrides)" },
  args: {
    config: { type: "string", required: true, alias: "c", description: "recipe YAML (see configs/grpo-*.yaml)" },
    resume: { type: "boolean", description: "continue from the run directory's latest checkpoint" },
    "gym-output": { type: "boolean", description: "print the Gym servers' output" },
  },
  async run({ args, rawArgs }) {
    let recipe;
    try {
      recipe = loadRecipe(args.config, overridesOf(rawArgs));
    } catch (e) {
      if (e instanceof RecipeError) {
        console.error(e.message);
        process.exitCode = 1;
        return;
      }
      throw e;
    }
    const r = await runGrpo({
      recipe,
      resume: args.resume,
      onGymOutput: args["gym-output"] ? (name, line) => process.stderr.write(`[${name}] ${line}\n`) : undefined,
    });
    console.log(
      JSON.stringify({
        steps: r.steps,
        val_accuracy_first: r.valAccuracyFirst,
        val_accuracy_last: r.valAccuracyLast,
        max_token_mult_prob_error: r.maxTokenMultProbError,
        contiguity_breaks: r.contiguityBreaks,
        minutes: Number(r.minutes.toFixed(2)),
        run_dir: r.runDir,
      }),
    );
  },
});

export default trainCommand;
