/**
 * `gymrl serve --model DIR` as a real child process on Qwen3 and Llama 3.1 directories in HF's
 * layout, driven by the `openai` client: prompt ids are the family template's, generation logprobs
 * equal a forward pass of the same weights loaded in this process, the stop ids are the directory's
 * generation_config.json (a model built to emit one of them stops on it), and a second turn sent back with its token ids reaches the engine
 * spliced: the first turn's ids exactly, then the template's ids after that turn's end token.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { startLocalReplicas, type LocalReplicas } from "../../src/engine/remote/index.ts";
import { loadModel } from "../../src/model/checkpoint.ts";
import { packBatch } from "../../src/model/model.ts";
import { serve } from "../../src/server/serve.ts";
import { getKernels } from "../../src/tensor/index.ts";
import { loadChatFormat } from "../../src/tokenizer/index.ts";
import { writeTinyHfModel, type HfFamily } from "../support/hf-model-dir.ts";

const root = mkdtempSync(join(tmpdir(), "gymrl-serve-dir-"));
const running: LocalReplicas[] = [];

afterAll(async () => {
  for (const r of running) await r.stop();
});

/** `gymrl serve --model DIR` as a child process (the launcher the engine pool uses). */
async function startServe(dir: string): Promise<{ client: OpenAI }> {
  const r = await startLocalReplicas({ modelDir: dir, slots: 4, maxModelLen: 1024, extraArgs: ["--served-model-name", "m"] });
  running.push(r);
  return { client: new OpenAI({ baseURL: `${r.urls[0]}/v1`, apiKey: "unused", maxRetries: 0 }) };
}

interface TokenFields {
  content: string | null;
  prompt_token_ids: number[];
  generation_token_ids: number[];
  generation_log_probs: number[];
}

/**
 * Weights that always emit `token`: every embedding row is e0 (so the residual stream is e0 at
 * every position, attention and MLP outputs being zero), and only `token`'s head row points along e0.
 */
function alwaysEmits(token: number, hidden: number, tied: boolean) {
  return (name: string, i: number): number | undefined => {
    const row = Math.floor(i / hidden);
    const e0 = i % hidden === 0 ? 1 : 0;
    if (/o_proj|down_proj/.test(name)) return 0;
    if (name === "model.embed_tokens.weight") return tied && row === token ? 50 * e0 : e0;
    if (name === "lm_head.weight") return row === token ? 50 * e0 : 0;
    return undefined;
  };
}

describe("stop ids come from generation_config.json", () => {
  // <|endoftext|> (Qwen3) and <|eom_id|> (Llama 3.1) stop generation only because generation_config.json lists them
  for (const [family, token] of [["qwen3", 151643], ["llama3", 128008]] as [HfFamily, number][]) {
    it(`${family}: a model that emits ${token} stops there (the tokenizer's eos is another id)`, async () => {
      const dir = join(root, `${family}-stop`);
      writeTinyHfModel(dir, family, { fill: alwaysEmits(token, 16, family === "qwen3") });
      const running = await serve({ modelDir: dir, modelName: "m", slots: 2, maxModelLen: 256, thread: "main" });
      try {
        expect(running.format.tokenizer.eosTokenId).not.toBe(token);
        const client = new OpenAI({ baseURL: `${running.baseUrl}/v1`, apiKey: "unused", maxRetries: 0 });
        const r = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }], max_tokens: 8, logprobs: true });
        expect((r.choices[0].message as unknown as TokenFields).generation_token_ids).toEqual([token]);
        expect(r.choices[0].finish_reason).toBe("stop");
      } finally {
        await running.close();
      }
    });
  }
});

for (const family of ["qwen3", "llama3"] as HfFamily[]) {
  describe(`gymrl serve --model <${family} directory>`, () => {
    it("exact token fields, the directory's stop ids, and the on-policy splice of a 2-turn chat", async () => {
      const dir = join(root, family);
      writeTinyHfModel(dir, family, { seed: family === "qwen3" ? 3 : 4 });
      const { client } = await startServe(dir);
      const format = loadChatFormat(dir);
      const user1 = { role: "user" as const, content: "What is 315 * 3?" };

      const r1 = await client.chat.completions.create({ model: "m", messages: [user1], max_tokens: 6, logprobs: true, seed: 11 });
      const m1 = r1.choices[0].message as unknown as TokenFields;
      expect(m1.prompt_token_ids).toEqual(format.chatTemplate.encode({ messages: [user1], addGenerationPrompt: true }));
      if (family === "llama3") expect(m1.prompt_token_ids[0]).toBe(128000); // <|begin_of_text|> from the template
      const gen = m1.generation_token_ids;
      expect(gen.length).toBeGreaterThan(0);
      // A generation stops at the directory's stop ids (generation_config.json) or at max_tokens.
      const stopped = format.stopTokenIds.includes(gen[gen.length - 1]);
      expect(stopped ? r1.choices[0].finish_reason : gen.length).toBe(stopped ? "stop" : 6);

      // Logprobs against a forward pass of the same directory loaded here (BF16 read into float32).
      const model = loadModel(dir, { kernels: getKernels() });
      const seq = [...m1.prompt_token_ids, ...gen];
      const { logp } = model.forward(packBatch([seq]));
      const expected = gen.map((_, k) => logp[m1.prompt_token_ids.length - 1 + k]);
      m1.generation_log_probs.forEach((lp, k) => expect(lp).toBeCloseTo(expected[k], 4));

      // Turn 2: the first turn comes back with its ids; if it did not stop, it is closed with the
      // turn-end token as a finished turn would be.
      const generated = stopped ? gen : [...gen, format.turnEnd.id];
      const assistant = { role: "assistant", content: m1.content ?? "", prompt_token_ids: m1.prompt_token_ids, generation_token_ids: generated };
      const user2 = { role: "user" as const, content: "Why?" };
      const r2 = await client.chat.completions.create({
        model: "m",
        messages: [user1, assistant as never, user2],
        max_tokens: 2,
        logprobs: true,
      });
      const m2 = r2.choices[0].message as unknown as TokenFields;
      const prefix = [...m1.prompt_token_ids, ...generated];
      expect(m2.prompt_token_ids.slice(0, prefix.length)).toEqual(prefix);
      // The rest is the template's render of the whole chat from just after the first turn's end.
      const full = format.chatTemplate.encode({
        messages: [user1, { role: "assistant" as const, content: m1.content ?? "" }, user2],
        addGenerationPrompt: true,
      });
      const turnEnds = full.flatMap((t, i) => (t === format.turnEnd.id ? [i] : []));
      const firstAssistantEnd = turnEnds[turnEnds.length - 2]; // the last one closes user2
      expect(m2.prompt_token_ids.slice(prefix.length)).toEqual(full.slice(firstAssistantEnd + 1));
    });
  });
}
