/**
 * The recipe (defaults, dotted overrides, validation errors) and the prompt stream (an order fixed
 * by seed and epoch, so a position is enough to continue exactly).
 */
import { describe, expect, test } from "vitest";
import { PromptStream, type PoolRow } from "../../src/grpo/data.ts";
import { applyOverride, lossConfigOf, parseRecipe, RecipeError } from "../../src/grpo/recipe.ts";

const minimal = {
  gym: { config_paths: ["a.yaml"] },
  environments: [{ agent: "x_simple_agent", train: "train.jsonl" }],
};

describe("recipe", () => {
  test("defaults come from NeMo RL's, and every field is overridable as dotted key=value", () => {
    const r = parseRecipe(minimal);
    expect(r.grpo.num_prompts_per_step).toBe(32);
    expect(r.grpo.num_generations_per_prompt).toBe(16);
    expect(r.loss_fn.ratio_clip_min).toBe(0.2);
    expect(r.policy.generation.temperature).toBe(1);
    const o = parseRecipe(minimal, ["grpo.max_num_steps=3", "policy.optimizer.lr=3e-4", "loss_fn.ratio_clip_c=3", "gym.overrides=[+a=1, +b=2]", "environments.0.agent=y", "run.out_dir=runs/x"]);
    expect(o.grpo.max_num_steps).toBe(3);
    expect(o.policy.optimizer.lr).toBe(3e-4);
    expect(lossConfigOf(o).ratioClipC).toBe(3);
    expect(o.gym.overrides).toEqual(["+a=1", "+b=2"]);
    expect(o.environments[0].agent).toBe("y");
    expect(o.run.out_dir).toBe("runs/x");
  });

  test("bad values name their field", () => {
    expect(() => parseRecipe(minimal, ["grpo.num_prompts_per_step=0"])).toThrow(/grpo.num_prompts_per_step/);
    expect(() => parseRecipe({ gym: minimal.gym })).toThrow(RecipeError);
    expect(() => parseRecipe(minimal, ["loss_fn.reference_policy_kl_penalty=0.1"])).toThrow(/skip_reference_policy_logprobs_calculation/);
    expect(() => applyOverride({}, "novalue")).toThrow(/key=value/);
  });
});

describe("recipe: settings that would be ignored or biased are errors", () => {
  test("an unknown key names the file, the key path and the nearest known key", () => {
    expect(() => parseRecipe(minimal, ["grpo.use_dynamic_samplng=true"])).toThrow(
      "override 'grpo.use_dynamic_samplng=true': unknown key 'grpo.use_dynamic_samplng' (did you mean 'grpo.use_dynamic_sampling'?)",
    );
    const raw = { ...minimal, policy: { optimiser: { lr: 1 } }, environments: [{ agent: "a", train: { generator: "g", split: "train", n: 1, sed: 2 } }] };
    let message = "";
    try {
      parseRecipe(raw, [], "configs/x.yaml");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("configs/x.yaml: unknown key 'policy.optimiser' (did you mean 'policy.optimizer'?)");
    expect(message).toContain("configs/x.yaml: unknown key 'environments.0.train.sed' (did you mean 'environments.0.train.seed'?)");
    // NeMo RL's names are known keys and reach the recipe
    const r = parseRecipe(minimal, ["grpo.use_dynamic_sampling=true", "grpo.dynamic_sampling_max_gen_batches=3", "grpo.batch_multiplier=2", "grpo.reward_shaping.enabled=true", "grpo.reward_scaling.enabled=true"]);
    expect([r.grpo.use_dynamic_sampling, r.grpo.dynamic_sampling_max_gen_batches, r.grpo.batch_multiplier]).toEqual([true, 3, 2]);
    expect(r.grpo.reward_shaping.enabled && r.grpo.reward_scaling.enabled).toBe(true);
    expect(r.grpo.failed_rollout_policy).toBe("drop");
  });

  test("training sampling must be the full softmax: top_p < 1 and top_k are rejected, validation's top_p is free", () => {
    expect(() => parseRecipe(minimal, ["policy.generation.top_p=0.95"])).toThrow(/policy\.generation\.top_p is 0\.95.*full distribution/);
    expect(() => parseRecipe(minimal, ["policy.generation.top_k=20"])).toThrow(/policy\.generation\.top_k is 20/);
    for (const k of ["null", "-1", "0"]) expect(parseRecipe(minimal, [`policy.generation.top_k=${k}`]).policy.generation.top_k).toBe(k === "null" ? null : Number(k));
    expect(parseRecipe(minimal, ["policy.generation.val_top_p=0.8"]).policy.generation.val_top_p).toBe(0.8);
  });
});

describe("PromptStream", () => {
  const pool: PoolRow[] = Array.from({ length: 7 }, (_, i) => ({ id: `r${i}`, agent: "a", row: { i } }));

  test("visits every row once per epoch, in an order fixed by (seed, epoch)", () => {
    const s = new PromptStream(pool, 1, 3);
    const ids = s.take(14).map((r) => r.id);
    expect(new Set(ids.slice(0, 7)).size).toBe(7);
    expect(new Set(ids.slice(7)).size).toBe(7);
    expect(ids.slice(0, 7)).not.toEqual(ids.slice(7)); // reshuffled per epoch
    expect(s.position).toEqual({ epoch: 2, cursor: 0 });
    expect(s.take(10)).toHaveLength(7); // the third and last epoch
    expect(s.take(1)).toHaveLength(0);
  });

  test("continuing from a saved position gives exactly the rest of an uninterrupted stream", () => {
    const whole = new PromptStream(pool, 5, 4).take(25).map((r) => r.id);
    const first = new PromptStream(pool, 5, 4);
    const head = first.take(10).map((r) => r.id);
    const rest = new PromptStream(pool, 5, 4, { ...first.position }).take(15).map((r) => r.id);
    expect([...head, ...rest]).toEqual(whole);
    // the checker can fail: another seed is another order
    expect(new PromptStream(pool, 6, 4).take(25).map((r) => r.id)).not.toEqual(whole);
  });
});
