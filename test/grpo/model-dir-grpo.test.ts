/**
 * GRPO from a user's own Hugging Face directory (`model.init: DIR`), for both families gymrl parses:
 * a tiny random Qwen3 and Llama 3.1 directory in HF's exact layout (full vocabulary, BF16, the
 * family's real tokenizer and template) trains one step through real Gym servers. The run uses the
 * directory's chat format end to end (template, stop ids, output parser), stays on-policy
 * (token_mult_prob_error ≈ 1, no contiguity breaks), and its checkpoint is again a complete HF
 * directory (tokenizer and template copied) that loads back to the same chat format.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { runGrpo } from "../../src/grpo/loop.ts";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import { parseRecipe } from "../../src/grpo/recipe.ts";
import { loadChatFormat } from "../../src/tokenizer/index.ts";
import { writeTinyHfModel, type HfFamily } from "../support/hf-model-dir.ts";
import { smallTrainFile, tinyRecipe } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-grpo-dir-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

for (const family of ["qwen3", "llama3"] as HfFamily[]) {
  test(`one GRPO step from a ${family} HF directory`, async () => {
    const init = join(tmp, family, "init");
    writeTinyHfModel(init, family);
    const raw = tinyRecipe({ init, outDir: join(tmp, family, "run"), train: smallTrainFile(tmp) });
    const recipe = parseRecipe(raw, ["grpo.max_num_steps=1", "grpo.num_prompts_per_step=2"]);
    const r = await runGrpo({ recipe, log: () => {} });
    expect(r.steps).toBe(1);
    const [m] = readJsonl(join(tmp, family, "run", "metrics.jsonl"));
    expect(m["train/contiguity_breaks"]).toBe(0);
    expect(m["train/token_mult_prob_error"]).toBeLessThan(1.01);
    expect(m["train/policy_version"]).toBe(1);

    const policy = join(tmp, family, "run", "checkpoints", "step_000001", "policy");
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"]) expect(existsSync(join(policy, f)), f).toBe(true);
    const saved = loadChatFormat(policy);
    const original = loadChatFormat(init);
    expect(saved.family).toBe(family);
    expect(saved.stopTokenIds).toEqual(original.stopTokenIds);
    expect(saved.chatTemplate.source).toBe(original.chatTemplate.source);
    expect(JSON.parse(readFileSync(join(policy, "config.json"), "utf8")).vocab_size).toBe(JSON.parse(readFileSync(join(init, "config.json"), "utf8")).vocab_size);
  }, 180_000);
}
