/**
 * `gymrl sft --init DIR` (runSft) on Qwen3 and Llama 3.1 HF directories: the chats are rendered
 * with the directory's own template and masked up to its turn-end token, the first step's loss is
 * the masked NLL of the loaded weights (computed here with a forward pass), and the checkpoint it
 * writes is a complete HF directory again (same tokenizer files, config fields kept) whose weights
 * survive save → load bit for bit.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HF_AUX_FILES, loadModel, saveCheckpoint } from "../../src/model/checkpoint.ts";
import { packBatch } from "../../src/model/model.ts";
import { chatToExamples, runSft } from "../../src/sft/index.ts";
import { getKernels } from "../../src/tensor/index.ts";
import { loadChatFormat } from "../../src/tokenizer/index.ts";
import { writeTinyHfModel, type HfFamily } from "../support/hf-model-dir.ts";

const root = mkdtempSync(join(tmpdir(), "gymrl-sft-dir-"));
const bits = (a: Float32Array | Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

const chats = [
  {
    messages: [
      { role: "user", content: "What is 315 * 3?" },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "calculate", arguments: '{"expr": "315 * 3"}' } }] },
      { role: "tool", content: "945", tool_call_id: "c1" },
      { role: "assistant", content: "It is 945." },
    ],
    tools: [{ type: "function", function: { name: "calculate", description: "Evaluate", parameters: { type: "object", properties: { expr: { type: "string" } } } } }],
  },
  { messages: [{ role: "user", content: "Say hi." }, { role: "assistant", content: "Hi!" }] },
];

const yaml = `train:
  lr: 1.0e-2
  steps: 1
  batch_tokens: 4096
  warmup_steps: 0
  held_out: 0
  eval_every: 0
  log_every: 1
`;

for (const family of ["qwen3", "llama3"] as HfFamily[]) {
  describe(`gymrl sft --init <${family} directory>`, () => {
    it("masks assistant turns through the family's turn end, steps from the loaded weights, and writes a complete HF directory", () => {
      const dir = join(root, family);
      writeTinyHfModel(dir, family, { dtype: family === "qwen3" ? "BF16" : "F16" });
      const data = join(root, `${family}.jsonl`);
      writeFileSync(data, chats.map((c) => JSON.stringify(c)).join("\n") + "\n");
      const config = join(root, "sft.yaml");
      writeFileSync(config, yaml);
      const format = loadChatFormat(dir);

      // masks: exactly the assistant text plus the turn-end token
      const examples = chats.flatMap((c) => chatToExamples(format, c as never));
      const trained = examples.map((e) => format.tokenizer.decode(e.tokens.filter((_, i) => e.mask[i])));
      const end = format.turnEnd.token;
      if (family === "llama3") expect(trained).toEqual([`{"name": "calculate", "parameters": {"expr": "315 * 3"}}${end}It is 945.${end}`, `Hi!${end}`]);
      // Qwen3's template re-renders earlier turns differently (reasoning dropped), so each turn is its own example,
      // and writes an empty think block into the turns after the last user message
      else expect(trained.map((t) => t.replace("<think>\n\n</think>\n\n", ""))).toEqual([`<tool_call>\n{"name": "calculate", "arguments": {"expr": "315 * 3"}}\n</tool_call>${end}`, `It is 945.${end}`, `Hi!${end}`]);

      // the first step's loss is the masked NLL of the directory's weights (before the update)
      const before = loadModel(dir, { kernels: getKernels() });
      let nll = 0;
      let count = 0;
      for (const e of examples) {
        const { logp } = before.forward(packBatch([e.tokens]));
        for (let i = 0; i + 1 < e.tokens.length; i++) {
          if (!e.mask[i + 1]) continue;
          nll -= logp[i];
          count++;
        }
      }
      const out = join(root, `${family}-run`);
      const { last, model } = runSft({ data, config, out, init: dir, log: () => {} });
      expect(last.loss).toBeCloseTo(nll / count, 4);
      expect(bits(model.params.flat).equals(bits(before.params.flat))).toBe(false);

      // the checkpoint is a complete HF directory: the same tokenizer files, the config's fields kept
      const ckpt = join(out, "checkpoint");
      for (const f of HF_AUX_FILES.filter((f) => ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"].includes(f))) {
        expect(readFileSync(join(ckpt, f)).equals(readFileSync(join(dir, f)))).toBe(true);
      }
      const cfg = JSON.parse(readFileSync(join(ckpt, "config.json"), "utf8"));
      const src = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
      for (const k of ["model_type", "architectures", "vocab_size", "rope_theta", "rope_scaling", "tie_word_embeddings", "bos_token_id", "eos_token_id"]) expect(cfg[k]).toEqual(src[k]);
      const again = loadChatFormat(ckpt);
      expect([again.family, again.stopTokenIds, again.chatTemplate.source]).toEqual([format.family, format.stopTokenIds, format.chatTemplate.source]);

      // save → load round trips bit for bit (HF half precision → float32 → checkpoint → float32 → checkpoint)
      const loaded = loadModel(ckpt, { kernels: getKernels() });
      expect(bits(loaded.params.flat).equals(bits(model.params.flat))).toBe(true);
      const second = join(root, `${family}-second`);
      saveCheckpoint(second, loaded);
      expect(bits(loadModel(second, { kernels: getKernels() }).params.flat).equals(bits(model.params.flat))).toBe(true);
      expect(readFileSync(join(second, "tokenizer.json")).equals(readFileSync(join(dir, "tokenizer.json")))).toBe(true);
      const fromHf = join(root, `${family}-resaved`);
      saveCheckpoint(fromHf, before);
      expect(bits(loadModel(fromHf, { kernels: getKernels() }).params.flat).equals(bits(before.params.flat))).toBe(true);
    });
  });
}
