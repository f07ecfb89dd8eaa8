/**
 * Several environments in one GRPO run, as NeMo Gym's success criteria ask: workplace_assistant
 * and calculator rows mixed in one training set, each row routed by its agent_ref to its own
 * simple_agent and resources server (real Gym child processes), two steps on a tiny random
 * policy. metrics.jsonl must carry train reward and validation accuracy per environment (per
 * agent): rows of both reached their own agent from the one mixed file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { generateRows } from "../../src/environments/workplace_assistant/tasks.ts";
import { runGrpo } from "../../src/grpo/loop.ts";
import { readJsonl } from "../../src/grpo/metrics-log.ts";
import { parseRecipe } from "../../src/grpo/recipe.ts";
import { saveCheckpoint } from "../../src/model/checkpoint.ts";
import { demoConfigFor } from "../../src/model/default-config.ts";
import { Model } from "../../src/model/model.ts";
import { buildVocabMap } from "../../src/model/vocab.ts";
import { referenceKernels } from "../../src/tensor/index.ts";
import { loadQwen3Tokenizer } from "../../src/tokenizer/index.ts";
import { REPO, tinyRecipe } from "./helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "gymrl-multi-env-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const WA = "workplace_assistant_simple_agent";
const CALC = "calculator_simple_agent";

/** The tiny policy of ./helpers.ts with room for a workplace prompt (a category's tools). */
function tinyLongContextPolicy(dir: string): string {
  const tok = loadQwen3Tokenizer();
  const ids = buildVocabMap([...Array.from({ length: 256 }, (_, i) => i), ...tok.addedTokens.values()]);
  const config = { ...demoConfigFor(ids), hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16, max_position_embeddings: 2048 };
  saveCheckpoint(dir, new Model(config, { kernels: referenceKernels, seed: 0 }));
  return dir;
}

const jsonl = (path: string, rows: unknown[]) => (writeFileSync(path, rows.map((r) => JSON.stringify(r) + "\n").join("")), path);

test("workplace_assistant and calculator rows mixed in one run: routed by agent_ref, metrics per environment", async () => {
  // analytics rows: the shortest tool list; each row names its agent
  const wa = generateRows({ split: "train", n: 4, seed: 0, categories: ["analytics"], toolStyle: "compact" });
  const calc = readFileSync(join(REPO, "src/environments/calculator/data/train.jsonl"), "utf8").split("\n").filter(Boolean).slice(0, 3).map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(wa.every((r) => (r.agent_ref as { name: string }).name === WA)).toBe(true);
  expect(calc.every((r) => (r.agent_ref as { name: string }).name === CALC)).toBe(true);
  const mixed = jsonl(join(tmp, "mixed.jsonl"), [wa[0], calc[0], wa[1], calc[1], wa[2], calc[2]]);
  const waVal = jsonl(join(tmp, "wa-val.jsonl"), generateRows({ split: "validation", n: 2, seed: 0, categories: ["analytics"], toolStyle: "compact" }));

  const raw = tinyRecipe({ init: tinyLongContextPolicy(join(tmp, "init")), outDir: join(tmp, "run"), train: mixed });
  raw.gym = {
    config_paths: [
      join(REPO, "src/gym/configs/vllm_model_for_training.yaml"),
      join(REPO, "src/environments/calculator/configs/calculator.yaml"),
      join(REPO, "src/environments/workplace_assistant/configs/workplace_assistant.yaml"),
    ],
    overrides: [`+${CALC}.responses_api_agents.simple_agent.max_steps=2`, `+${WA}.responses_api_agents.simple_agent.max_steps=2`],
  };
  // a training file of mixed rows (each routed by its own agent_ref, whatever entry lists it), validation per environment
  raw.environments = [
    { agent: CALC, train: mixed, validation: join(REPO, "src/environments/calculator/data/validation.jsonl") },
    { agent: WA, train: jsonl(join(tmp, "wa-train.jsonl"), [wa[3]]), validation: waVal },
  ];
  const recipe = parseRecipe(raw, ["grpo.max_num_steps=2", "grpo.num_prompts_per_step=4", "grpo.val_at_end=true", "grpo.max_val_samples=2", "checkpointing.enabled=false"]);
  const r = await runGrpo({ recipe, log: () => {} });
  expect(r.steps).toBe(2);

  const metrics = readJsonl(join(tmp, "run", "metrics.jsonl"));
  const steps = metrics.filter((m) => (m.step as number) > 0);
  expect(steps.some((m) => typeof m[`train/${WA}/reward`] === "number")).toBe(true);
  expect(steps.some((m) => typeof m[`train/${CALC}/reward`] === "number")).toBe(true);
  const last = metrics.at(-1)!;
  expect(last[`validation/${WA}/accuracy`]).toBeTypeOf("number");
  expect(last[`validation/${CALC}/accuracy`]).toBeTypeOf("number");

}, 300_000);
