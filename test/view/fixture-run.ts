/**
 * A demo-sized run directory written with the real writers (grpo/metrics-log.ts and
 * grpo/trained-rollouts.ts): `steps` steps of metrics (validation at step 0 and at the last step)
 * and each step's trained rollouts, 2 prompt groups × 2 rollouts with Qwen3-tokenized chats. The
 * trainer's logprob equals the sampler's on every sampled token except the last, where it is
 * GAP nats higher, so the page's heat scale has a known answer. Test support only.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendJsonl } from "../../src/grpo/metrics-log.ts";
import type { ScoredRollout } from "../../src/grpo/step-rewards.ts";
import { trainedRolloutRecords, writeTrainedRollouts } from "../../src/grpo/trained-rollouts.ts";
import type { TokenSample } from "../../src/rollout/trajectory.ts";
import { loadQwen3Tokenizer } from "../../src/tokenizer/index.ts";

export const GAP = 1;
export const GEN_LP = -0.25;

export interface FixtureRun {
  dir: string;
  /** token count of each rollout's sample, by `${group}:${rollout}`, for every step */
  tokens: Map<string, number>;
  /** sampled tokens in each sample (same keys) */
  sampled: Map<string, number>;
}

export function metricsLine(step: number): Record<string, number> {
  return {
    step,
    "train/reward": 0.2 + 0.1 * step,
    "train/token_mult_prob_error": 1 + 0.01 * step,
    "train/kl_penalty": 0.001 * step,
    "train/entropy": 2 - 0.1 * step,
    "timing/train/generation": 3 + step,
    "timing/train/policy_training": 1,
  };
}

export function writeFixtureRun(steps: number, dir = mkdtempSync(join(tmpdir(), "gymrl-view-run-"))): FixtureRun {
  mkdirSync(dir, { recursive: true });
  const tok = loadQwen3Tokenizer();
  const decode = (ids: number[]) => tok.decode(ids);
  const tokens = new Map<string, number>();
  const sampled = new Map<string, number>();
  appendJsonl(join(dir, "metrics.jsonl"), { step: 0, "validation/accuracy": 0.3, "timing/validation/total": 2 });
  for (let step = 1; step <= steps; step++) {
    const rollouts: ScoredRollout[] = [];
    const samples: TokenSample[] = [];
    for (let group = 0; group < 2; group++) {
      for (let k = 0; k < 2; k++) {
        const question = `What is ${group} + ${step}?`;
        const answer = k === 0 ? `The answer is ${group + step}.` : `I think it is ${group + step + 1}, 🙂 maybe.`;
        const prompt = tok.encode(`<|im_start|>user\n${question}<|im_end|>\n<|im_start|>assistant\n`);
        const gen = tok.encode(`${answer}<|im_end|>`);
        const ids = Int32Array.from([...prompt, ...gen]);
        const lossMask = Uint8Array.from(ids, (_, t) => (t >= prompt.length ? 1 : 0));
        const sample: TokenSample = {
          tokens: ids,
          lossMask,
          generationLogprobs: Float64Array.from(lossMask, (m) => (m ? GEN_LP : 0)),
          spans: [],
          promptLength: prompt.length,
          reward: k === 0 ? 1 : 0,
          taskIndex: group,
          rolloutIndex: k,
          agentRef: { type: "responses_api_agents", name: "math_agent" },
          segment: 0,
          turns: 1,
          truncated: false,
          maskSample: false,
          contiguityBreaks: [],
          noTrainableTokens: null,
        } as TokenSample;
        samples.push(sample);
        tokens.set(`${group}:${k}`, ids.length);
        sampled.set(`${group}:${k}`, gen.length);
        const result = {
          reward: sample.reward,
          extracted_answer: String(group + step + k),
          response: {
            output: [
              // the second rollout of each group calls a tool first
              ...(k === 1
                ? [
                    { type: "function_call", name: "calculator", arguments: `{"expr": "${group}+${step}"}`, call_id: "c1" },
                    { type: "function_call_output", call_id: "c1", output: String(group + step) },
                  ]
                : []),
              { type: "message", role: "assistant", content: [{ type: "output_text", text: answer }], generation_token_ids: gen },
            ],
          },
        };
        rollouts.push({
          group,
          agent: "math_agent",
          envReward: sample.reward,
          unshaped: sample.reward,
          reward: sample.reward,
          ok: {
            kind: "ok",
            taskIndex: group,
            rolloutIndex: k,
            agent: "math_agent",
            row: { responses_create_params: { input: [{ role: "user", content: question }] } },
            timing: { queuedMs: 0, runMs: 1, attempts: 1 },
            result,
            conversion: { outcome: "ok", samples: [sample], breaks: [], emptyGenerationCalls: 0, message: null },
          },
        });
      }
    }
    const seqOffsets = new Int32Array(samples.length + 1);
    samples.forEach((s, i) => (seqOffsets[i + 1] = seqOffsets[i] + s.tokens.length));
    // the trainer: equal to the sampler except GAP nats on each sample's last (sampled) token
    const trainer = new Float64Array(seqOffsets[samples.length]);
    samples.forEach((s, i) => {
      for (let t = 0; t < s.tokens.length; t++) trainer[seqOffsets[i] + t] = s.generationLogprobs[t] + (t === s.tokens.length - 1 ? GAP : 0);
    });
    const sb = { samples, sampleAdvantages: Float64Array.from(samples, (s) => s.reward - 0.5), batch: { seqOffsets, sampleMask: new Float64Array(samples.length).fill(1) } };
    writeTrainedRollouts(dir, step, trainedRolloutRecords(step, rollouts, sb as never, trainer, decode));
    const m: Record<string, number> = metricsLine(step);
    if (step === steps) m["validation/accuracy"] = 0.6;
    appendJsonl(join(dir, "metrics.jsonl"), m);
  }
  return { dir, tokens, sampled };
}
