/**
 * What `gymrl export-gguf` writes, run by llama.cpp (node-llama-cpp's prebuilt CPU binary): it
 * loads, its tokenizer gives the ids gymrl's Qwen3 tokenizer gives (and decodes back), and greedy
 * decoding of small random-weight models yields the same tokens as gymrl's own forward pass, for
 * Qwen3 (tied head) and Llama (untied head, q/k permuted for llama.cpp's RoPE pairing, and a
 * compact vocabulary expanded to the tokenizer's ids). Weights are random at a scale
 * that makes the next token clear (top-2 logit margins of whole units), so float summation order
 * cannot flip a token. The suites skip where node-llama-cpp's binary does not load, except under
 * GYMRL_REQUIRE_LLAMACPP=1 (.ci/run sets it), where that is a failure.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { getLlama, type Llama, type LlamaModel, LlamaLogLevel, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

import type { ModelConfig } from "../../src/model/config.ts";
import { saveCheckpoint } from "../../src/model/checkpoint.ts";
import { exportGguf } from "../../src/model/gguf/index.ts";
import { Model } from "../../src/model/model.ts";
import { randomizeParams } from "../../src/model/testing.ts";
import { getKernels } from "../../src/tensor/index.ts";
import { loadQwen3Tokenizer, qwen3TokenizerDir } from "../../src/tokenizer/index.ts";

const requireLlama = process.env.GYMRL_REQUIRE_LLAMACPP === "1";
let llama: Llama | null = null;
let unavailable = "";
try {
  llama = await getLlama({ gpu: false, build: "never", progressLogs: false, logLevel: LlamaLogLevel.error });
} catch (e) {
  unavailable = (e as Error).message;
}

test.runIf(requireLlama)("node-llama-cpp's binary loads (GYMRL_REQUIRE_LLAMACPP=1)", () => {
  expect(unavailable).toBe("");
});

const dir = mkdtempSync(join(tmpdir(), "gymrl-llamacpp-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tokenizer = loadQwen3Tokenizer();
const PROMPTS = ["The quick brown fox", "<|im_start|>user\nWhat is 12*7?<|im_end|>\n<|im_start|>assistant\n", "def f(x):\n    return", "Zürich 日本語 🙂"];
const GEN = 24;
/** Timeout of the steps that build, export and load a 151,669-row model: seconds alone, more on a loaded 2-core machine. */
const SLOW = 180_000;
const QWEN3_VOCAB = 151669;

function tinyConfig(over: Partial<ModelConfig>): ModelConfig {
  return {
    model_type: "qwen3",
    hidden_size: 64,
    intermediate_size: 96,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    vocab_size: QWEN3_VOCAB,
    tie_word_embeddings: true,
    max_position_embeddings: 256,
    ...over,
  };
}

/** A random-weight checkpoint with the Qwen3 tokenizer files, and its model. */
function checkpoint(name: string, cfg: ModelConfig): { model: Model; dir: string } {
  const model = new Model(cfg, { kernels: getKernels(), dtype: "float32" });
  randomizeParams(model, 11, 0.5);
  const d = join(dir, name);
  saveCheckpoint(d, model, undefined, undefined, { auxFrom: qwen3TokenizerDir() });
  return { model, dir: d };
}

function gymrlGreedy(model: Model, prompt: number[], n: number): number[] {
  const cache = model.createKVCache(1, prompt.length + n);
  let logits = model.prefill(cache, 0, prompt);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    const id = model.vocab.rowToId[best];
    out.push(id);
    if (i + 1 < n) logits = model.decodeStep(cache, [0], [id]);
  }
  return out;
}

async function llamaGreedy(m: LlamaModel, prompt: number[], n: number): Promise<number[]> {
  // F32 keys/values (llama.cpp's default is F16) and no flash attention: the exact computation
  const ctx = await m.createContext({
    contextSize: 256,
    // one thread: results do not depend on it (each dot product is one thread's), and llama.cpp's
    // spinning thread pool stalls on a loaded machine
    threads: 1,
    flashAttention: false,
    experimentalKvCacheKeyType: "F32",
    experimentalKvCacheValueType: "F32",
  });
  try {
    const out: number[] = [];
    for await (const t of ctx.getSequence().evaluate(prompt as Token[], { temperature: 0, yieldEogToken: true })) {
      out.push(t);
      if (out.length >= n) break;
    }
    return out;
  } finally {
    await ctx.dispose();
  }
}

describe.skipIf(llama === null)("the GGUF gymrl writes, in llama.cpp", () => {
  const loaded: LlamaModel[] = [];
  afterAll(async () => {
    for (const m of loaded) await m.dispose();
  });
  async function load(path: string): Promise<LlamaModel> {
    const m = await llama!.loadModel({ modelPath: path });
    loaded.push(m);
    return m;
  }

  let qwen: { model: Model; dir: string; gguf: LlamaModel };
  beforeAll(async () => {
    const c = checkpoint("qwen3", tinyConfig({}));
    exportGguf(c.dir, join(dir, "qwen3.gguf"));
    qwen = { ...c, gguf: await load(join(dir, "qwen3.gguf")) };
  }, SLOW);

  test("its tokenizer gives gymrl's Qwen3 ids, special tokens included, and decodes back", () => {
    const strings = [
      ...PROMPTS,
      "  leading spaces,\ttabs\r\nand CRLF  ",
      "numbers 1234567 3.14159 -0.5e10",
      "<think>\nreasoning</think>\n\n<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
      "don't I'LL we've ñ é ü 中文 한국어 العربية",
      "",
    ];
    for (const s of strings) {
      const ids = Array.from(qwen.gguf.tokenize(s, true));
      expect(ids, s).toEqual(tokenizer.encode(s));
      expect(qwen.gguf.detokenize(ids as Token[], true), s).toBe(s);
    }
    expect(qwen.gguf.tokens.eos).toBe(151645); // <|im_end|>, from tokenizer_config.json
  });

  test("Qwen3, tied head: greedy tokens identical to gymrl's", async () => {
    for (const p of PROMPTS) {
      const ids = tokenizer.encode(p);
      expect(await llamaGreedy(qwen.gguf, ids, GEN), p).toEqual(gymrlGreedy(qwen.model, ids, GEN));
    }
  }, SLOW);

  test("Llama with a compact vocabulary and an untied head: greedy tokens identical to gymrl's", async () => {
    // llama.cpp pairs RoPE dimensions differently (q/k are permuted), and the compact rows are
    // expanded to the tokenizer's ids (an id outside the map reads as the unknown row in both)
    const ids = PROMPTS.flatMap((p) => tokenizer.encode(p));
    const map = [...new Set([...ids, 151643, 151645, ...Array.from({ length: 300 }, (_, i) => 200 + i)])].sort((a, b) => a - b);
    const c = checkpoint("llama", tinyConfig({ model_type: "llama", tie_word_embeddings: false, vocab_size: map.length + 1, gymrl_vocab_map: map }));
    const r = exportGguf(c.dir, join(dir, "llama.gguf"));
    expect(r.vocabSize).toBe(QWEN3_VOCAB);
    expect(r.unscoredIds.length).toBe(QWEN3_VOCAB - map.length);
    const m = await load(join(dir, "llama.gguf"));
    for (const p of PROMPTS) {
      const prompt = [...tokenizer.encode(p), 100_000];
      expect(await llamaGreedy(m, prompt, GEN), p).toEqual(gymrlGreedy(c.model, prompt, GEN));
    }
  }, SLOW);

  test("F16: loads, and its first greedy token is gymrl's where gymrl's top-2 margin is clear", async () => {
    const c = qwen;
    exportGguf(c.dir, join(dir, "qwen3-f16.gguf"), { dtype: "f16" });
    const m = await load(join(dir, "qwen3-f16.gguf"));
    let compared = 0;
    for (const p of PROMPTS) {
      const ids = tokenizer.encode(p);
      const logits = c.model.prefill(c.model.createKVCache(1, ids.length), 0, ids);
      const sorted = Array.from(logits).sort((a, b) => b - a);
      if (sorted[0] - sorted[1] < 0.5) continue;
      compared++;
      expect((await llamaGreedy(m, ids, 1))[0], p).toBe(gymrlGreedy(c.model, ids, 1)[0]);
    }
    expect(compared).toBeGreaterThan(0);
  }, SLOW);
});
