/** The loop writes each step's trained rollouts to RUN/rollouts/ (the file the run viewer reads). */
import { describe, expect, it } from "vitest";
import { listTrainedRolloutSteps, readTrainedRollouts } from "../../src/grpo/trained-rollouts.ts";
import { runScripted, type RolloutPlan } from "./helpers-loop.ts";

describe("loop → rollouts/step_NNNNNN.jsonl", () => {
  it("one record per trained rollout, token arrays aligned with the trained batch", async () => {
    // 2 prompts × 3 rollouts; prompt 1's rewards are equal (zero advantage), rollout 2 of prompt 0 generates 5 tokens
    const plans: RolloutPlan[][] = [
      [{ reward: 1 }, { reward: 0 }, { reward: 0, genTokens: 5 }],
      [{ reward: 1 }, { reward: 1 }, { reward: 1 }],
    ];
    const { run, trained } = await runScripted(plans, []);
    expect(listTrainedRolloutSteps(run.runDir)).toEqual([1]);
    const file = readTrainedRollouts(run.runDir, 1)!;
    expect(file.badLines).toBe(0);
    expect(file.records).toHaveLength(6);
    const byKey = new Map(file.records.map((r) => [`${r.task}:${r.rollout}`, r]));
    for (const t of trained[0]) {
      const r = byKey.get(`${t.prompt}:${t.rollout}`)!;
      expect(r.env_reward).toBe(plans[t.prompt][t.rollout].reward);
      const s = r.samples[0];
      expect(s.advantage).toBeCloseTo(t.advantage, 12);
      // prompt [1, 2, 3] then the generation: 100 + prompt, 200 + rollout, filler 7s
      const gen = plans[t.prompt][t.rollout].genTokens ?? 2;
      expect(s.ids.slice(0, 5)).toEqual([1, 2, 3, 100 + t.prompt, 200 + t.rollout]);
      expect(s.ids).toHaveLength(3 + gen);
      expect(s.mask).toBe("000" + "1".repeat(gen));
      // the fake agent's sampler logprob of token t is -t/100
      expect(s.gen_lp.slice(3)).toEqual(s.ids.slice(3).map((t) => -t / 100));
      expect(s.train_lp).toHaveLength(s.ids.length);
    }
    // the output items keep their text but lose their token fields
    expect(file.records[0].output[0]).toMatchObject({ type: "message", role: "assistant" });
    expect(file.records[0].output[0]).not.toHaveProperty("generation_token_ids");
    expect(file.records[0].input).toEqual([{ role: "user", content: "prompt 0" }]);
  });
});
