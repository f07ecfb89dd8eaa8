/**
 * The GRPO loop without a model or Gym children: a scripted in-process agent answers /run with
 * token fields and a reward chosen per (prompt, rollout), and a recording trainer keeps every
 * batch the loop hands to an optimizer step. What the loop trains on can then be read back
 * sample by sample. Test support only.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GymHandle } from "../../src/gym/index.ts";
import { runGrpo, type GrpoRunResult } from "../../src/grpo/loop.ts";
import type { PolicyStack } from "../../src/grpo/policy-stack.ts";
import { parseRecipe } from "../../src/grpo/recipe.ts";
import type { PolicyTrainer, TrainBatch, TrainStepResult } from "../../src/grpo/trainer.ts";
import { clientFor, resultWith, startFakeAgent } from "../rollout/helpers/fake-agents.ts";

export const AGENT = "scripted_agent";
const PROMPT = [1, 2, 3];

/** What rollout `rollout` of prompt `prompt` does. */
export interface RolloutPlan {
  reward?: number;
  /** answer /run with HTTP 500 (a crashed environment) */
  fail?: boolean;
  /** the response stops on max_output_tokens */
  truncated?: boolean;
  /** generated tokens (default 2) */
  genTokens?: number;
}

/** One trained sample, read back from a recorded batch. */
export interface TrainedSample {
  prompt: number;
  rollout: number;
  advantage: number;
  sampleMask: number;
}

class RecordingTrainer implements PolicyTrainer {
  readonly numParams = 0;
  readonly description = "recording trainer";
  batches: TrainBatch[] = [];
  constructor(private readonly trainMs = 0) {}
  async logprobs(b: { tokens: Int32Array }) {
    return { logprobs: new Float64Array(b.tokens.length), entropy: new Float64Array(b.tokens.length) };
  }
  async trainStep(b: TrainBatch, _loss: unknown, o: { lr: number }): Promise<TrainStepResult> {
    this.batches.push({
      tokens: Int32Array.from(b.tokens),
      seqOffsets: Int32Array.from(b.seqOffsets),
      tokenMask: Float64Array.from(b.tokenMask),
      sampleMask: Float64Array.from(b.sampleMask),
      generationLogprobs: Float64Array.from(b.generationLogprobs),
      advantages: Float64Array.from(b.advantages),
    });
    if (this.trainMs > 0) await new Promise((r) => setTimeout(r, this.trainMs));
    const metrics = { probsRatioMin: 1, probsRatioMax: 1, isRatioMin: 1, isRatioMax: 1 } as unknown as TrainStepResult["metrics"];
    return { metrics, gradNorm: 0, lr: o.lr, currLogprobs: new Float64Array(b.tokens.length), computeS: 0, commitS: 0 };
  }
  async save() {}
  async load() {
    return null;
  }
  async exportCheckpoint(dir: string) {
    return dir;
  }
  async close() {}
}

/**
 * Runs GRPO over prompts `plans.length` prompts (row field `q` = prompt number), each rollout as
 * `plans[prompt][rollout]` says, with the given recipe overrides; returns the run and every trained sample.
 */
export interface ScriptedOptions {
  /** a third generated token, 300 + (the request's sampling seed mod 50): batches show which seeds made them */
  seedTokens?: boolean;
  /** ms the agent takes for rollout `rollout` of prompt `prompt` (default 0) */
  delayMs?: (prompt: number, rollout: number) => number;
  /** ms each optimizer step takes (default 0) */
  trainMs?: number;
  /** the run directory (default a fresh temporary one) and whether to resume from its checkpoint */
  runDir?: string;
  resume?: boolean;
}

export async function runScripted(
  plans: RolloutPlan[][],
  overrides: string[],
  opts: ScriptedOptions = {},
): Promise<{ run: GrpoRunResult; trained: TrainedSample[][]; received: number; batches: TrainBatch[] }> {
  const dir = mkdtempSync(join(tmpdir(), "gymrl-loop-"));
  const train = join(dir, "train.jsonl");
  writeFileSync(train, plans.map((_, q) => JSON.stringify({ q, responses_create_params: { input: [{ role: "user", content: `prompt ${q}` }] } }) + "\n").join(""));
  const agent = await startFakeAgent(AGENT, async (row) => {
    const q = row.q as number;
    const k = row._ng_rollout_index as number;
    const plan = plans[q][k] ?? {};
    const delay = opts.delayMs?.(q, k) ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (plan.fail) return { status: 500, body: { error: "environment crashed" } };
    // generated tokens name their rollout: 100 + prompt, 200 + rollout, then filler
    const seed = Number((JSON.parse(String((row.responses_create_params as { metadata?: { extra_body?: string } }).metadata?.extra_body ?? "{}")) as { seed?: number }).seed ?? 0);
    const gen = [100 + q, 200 + k, ...(opts.seedTokens ? [300 + (seed % 50)] : []), ...Array.from({ length: Math.max(0, (plan.genTokens ?? 2) - 2) }, () => 7)];
    const r = resultWith(row, [{ prompt: PROMPT, gen }], { reward: plan.reward ?? 0 });
    if (plan.truncated) Object.assign(r.response as object, { status: "incomplete", incomplete_details: { reason: "max_output_tokens" } });
    return r;
  });
  const trainer = new RecordingTrainer(opts.trainMs ?? 0);
  let version = 0;
  const gym = { client: clientFor([agent]), headUrl: "", config: {}, servers: [], check() {}, stop: async () => {} } as unknown as GymHandle;
  const stack = {
    backend: { description: "recording trainer, scripted agent" },
    trainer,
    reference: null,
    engine: { maxModelLen: 4096 },
    gym,
    refit: async () => ({ policyVersion: ++version, seconds: 0 }),
    close: async () => {},
  } as unknown as PolicyStack;
  const recipe = parseRecipe(
    {
      run: { out_dir: opts.runDir ?? join(dir, "run"), seed: 0 },
      gym: { config_paths: ["unused.yaml"] },
      environments: [{ agent: AGENT, train }],
      grpo: { num_generations_per_prompt: plans[0].length, max_num_steps: 1, val_period: 0, val_at_end: false },
      policy: { train_global_batch_size: 1024 },
      rollout: { max_retries: 0, timeout_s: 30 },
      checkpointing: { enabled: false },
    },
    overrides,
  );
  try {
    const run = await runGrpo({ recipe, stack, log: () => {}, resume: opts.resume });
    const trained = trainer.batches.map((b) => {
      const out: TrainedSample[] = [];
      for (let s = 0; s + 1 < b.seqOffsets.length; s++) {
        const o = b.seqOffsets[s];
        const last = b.seqOffsets[s + 1] - 1;
        out.push({ prompt: b.tokens[o + PROMPT.length] - 100, rollout: b.tokens[o + PROMPT.length + 1] - 200, advantage: b.advantages[last], sampleMask: b.sampleMask[s] });
      }
      return out;
    });
    return { run, trained, received: agent.received.length, batches: trainer.batches };
  } finally {
    await agent.close();
  }
}
