/**
 * HF conformance for model directories (part 1, TypeScript): writes a Qwen3 and a Llama 3.1
 * directory in HF's layout with the families' real tokenizer files and templates (Llama with its
 * llama3 rope scaling, BF16, sharded), plus the checkpoint gymrl saves after loading each one, and
 * what gymrl computes on them through `loadChatFormat` and `loadModel`: renders (tools and tool
 * calls included), token ids, per-token logprobs. check_hf.py (part 2) compares with transformers.
 *
 *   node --import tsx python/conformance/export-model-dirs.ts OUT_DIR
 *   python3 python/conformance/check_hf.py OUT_DIR
 *
 * Measured (transformers 5.17.0, torch 2.11): all four directories ok; renders and token ids equal;
 * max |Δ logprob| 1.3e-6 (Qwen3) and 1.0e-6 (Llama 3.1 with llama3 rope scaling; the same weights
 * without the scaling differ from transformers by 1.5e-4, so the check sees it).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeTinyHfModel, type HfFamily } from "../../test/support/hf-model-dir.ts";
import { loadModel, saveCheckpoint } from "../../src/model/checkpoint.ts";
import { packBatch } from "../../src/model/model.ts";
import { getKernels } from "../../src/tensor/index.ts";
import { loadChatFormat, type ChatMessage, type ChatTool } from "../../src/tokenizer/index.ts";

const out = process.argv[2];
if (!out) throw new Error("usage: export-model-dirs.ts OUT_DIR");
mkdirSync(out, { recursive: true });

const demos = readFileSync("src/environments/calculator/data/demonstrations.jsonl", "utf8").trim().split("\n").slice(0, 4)
  .map((l) => JSON.parse(l) as { messages: ChatMessage[]; tools: ChatTool[] });
const texts = [
  ...readFileSync("src/environments/math_with_judge/data/example.jsonl", "utf8").trim().split("\n").slice(0, 3),
  "Ünïcödé — naïve café 日本語のテキスト 🤖 emoji; tabs\tand\nnewlines   spaces, numbers 1234567 and 3.14159",
];
const chats = [
  ...demos.map((d, i) => ({ messages: d.messages.slice(0, i % 2 === 0 ? d.messages.length : 1), tools: d.tools, add_generation_prompt: i % 2 === 1 })),
  {
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Hi there" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Bye" },
    ] as ChatMessage[],
    tools: null,
    add_generation_prompt: true,
  },
];

const kernels = getKernels();
const manifest: Record<string, unknown>[] = [];
for (const family of ["qwen3", "llama3"] as HfFamily[]) {
  const dir = join(out, family);
  writeTinyHfModel(dir, family, { shards: family === "llama3" ? 2 : 1, seed: 5 });
  const format = loadChatFormat(dir);
  const model = loadModel(dir, { kernels });
  const renders = chats.map((c) => ({
    ...c,
    text: format.chatTemplate.render({ messages: c.messages, tools: c.tools, addGenerationPrompt: c.add_generation_prompt }),
  }));
  const encodings = texts.map((t) => ({ text: t, ids: format.tokenizer.encode(t, { allowSpecial: false }) }));
  const sequences = renders.map((r) => format.tokenizer.encode(r.text, { allowSpecial: true }).slice(0, 160));
  const logprobs = sequences.map((ids) => Array.from(model.forward(packBatch([ids])).logp).slice(0, ids.length - 1));
  const expected = JSON.stringify({ renders, encodings, sequences, logprobs });
  writeFileSync(join(dir, "gymrl_expected.json"), expected);
  manifest.push({ family, dir: family, sequences: sequences.length, tokenizer: true });
  // what gymrl writes after loading the directory: float32, the tokenizer files carried along
  const saved = join(out, `${family}-gymrl-saved`);
  saveCheckpoint(saved, model);
  writeFileSync(join(saved, "gymrl_expected.json"), expected);
  manifest.push({ family: `${family}-gymrl-saved`, dir: `${family}-gymrl-saved`, sequences: sequences.length, tokenizer: true });
}
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2));
console.log(`wrote ${manifest.length} model directories to ${out}`);
