/**
 * HF conformance, part 1 (runs here, TypeScript): writes tiny random checkpoints in Hugging Face's
 * exact layout (full vocabulary, the family's real tokenizer files) with gymrl's own writer, and
 * what gymrl computes on them: per-token logprobs of real conversations, token ids of real texts,
 * and chat-template renders. Part 2 (check_hf.py) loads the same directories with `transformers`
 * on a machine that has it and compares: an independent check of gymrl's decoder, tokenizer and
 * template against the reference implementation.
 *
 *   node --import tsx python/conformance/export.ts OUT_DIR
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { saveCheckpoint } from "../../src/model/checkpoint.ts";
import type { ModelConfig } from "../../src/model/config.ts";
import { Model } from "../../src/model/model.ts";
import { randomizeParams } from "../../src/model/testing.ts";
import { getKernels } from "../../src/tensor/index.ts";
import { loadTokenizer, qwen3TokenizerDir, renderChat, type ChatMessage, type ChatTool } from "../../src/tokenizer/index.ts";

const out = process.argv[2];
if (!out) throw new Error("usage: export.ts OUT_DIR");
mkdirSync(out, { recursive: true });

interface Family {
  name: string;
  /** the tokenizer files copied beside the weights; none: a decoder-only check on ids mod vocab_size */
  tokenizerDir: string | null;
  config: ModelConfig;
}

const qwen3: Family = {
  name: "qwen3",
  tokenizerDir: qwen3TokenizerDir(),
  config: {
    model_type: "qwen3",
    hidden_size: 32,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    vocab_size: 151936,
    tie_word_embeddings: true,
    max_position_embeddings: 4096,
  } as ModelConfig,
};

// a Llama-architecture decoder (no QK-norm, untied head, Llama 3's rope_theta) on a small vocabulary
// (ids taken mod its size), so the files stay small enough to carry
const llamaArch: Family = {
  name: "llama-arch",
  tokenizerDir: null,
  config: { ...qwen3.config, model_type: "llama", hidden_size: 64, head_dim: 16, vocab_size: 4096, tie_word_embeddings: false, rope_theta: 500000 } as ModelConfig,
};

const demos = readFileSync("src/environments/calculator/data/demonstrations.jsonl", "utf8").trim().split("\n").slice(0, 6).map((l) => JSON.parse(l) as { messages: ChatMessage[]; tools: ChatTool[] });
const texts = [
  ...readFileSync("src/environments/math_with_judge/data/example.jsonl", "utf8").trim().split("\n").slice(0, 4),
  ...readFileSync("src/environments/mcqa/data/example.jsonl", "utf8").trim().split("\n").slice(0, 4),
  "Ünïcödé — naïve café 日本語のテキスト 🤖 emoji; tabs\tand\nnewlines   spaces",
];

const kernels = getKernels();
const manifest: Record<string, unknown>[] = [];
for (const fam of [qwen3, llamaArch]) {
  const dir = join(out, fam.name);
  const model = new Model(fam.config, { kernels });
  randomizeParams(model, 7, 0.08);
  // norms near 1 keep activations sane at this scale
  saveCheckpoint(dir, model);
  const tokDir = fam.tokenizerDir ?? qwen3TokenizerDir();
  if (fam.tokenizerDir)
    for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"])
      if (existsSync(join(tokDir, f))) copyFileSync(join(tokDir, f), join(dir, f));
  const tok = loadTokenizer(tokDir);

  const renders = demos.map((d, i) => ({
    messages: d.messages.slice(0, i % 2 === 0 ? d.messages.length : 1),
    tools: d.tools,
    add_generation_prompt: i % 2 === 1,
    text: renderChat(tok, { messages: d.messages.slice(0, i % 2 === 0 ? d.messages.length : 1), tools: d.tools, addGenerationPrompt: i % 2 === 1 }),
  }));
  const encodings = texts.map((t) => ({ text: t, ids: tok.encode(t, { allowSpecial: false }) }));
  const V = fam.config.vocab_size;
  const sequences = renders.map((r) => tok.encode(r.text, { allowSpecial: true }).slice(0, 96).map((id) => id % V));
  // logprob of each next token at T = 1 (row i scores token i + 1)
  const logprobs = sequences.map((ids) => {
    const tokens = Int32Array.from(ids);
    const targets = new Int32Array(ids.length).fill(-1);
    for (let i = 0; i + 1 < ids.length; i++) targets[i] = ids[i + 1];
    const { logp } = model.forward({ tokens, targets, cuSeqlens: Int32Array.from([0, ids.length]) }, 1);
    return Array.from(logp).slice(0, ids.length - 1);
  });
  const tokenizerCases = fam.tokenizerDir ? { renders, encodings } : {};
  writeFileSync(join(dir, "gymrl_expected.json"), JSON.stringify({ ...tokenizerCases, sequences, logprobs }));
  manifest.push({ family: fam.name, dir: fam.name, sequences: sequences.length, tokenizer: fam.tokenizerDir !== null });
}
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 2));
console.log(`wrote ${manifest.length} checkpoints to ${out}`);
