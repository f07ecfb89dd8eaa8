/**
 * SFT (`runSft`, what `gymrl sft` runs) end to end on a small synthetic chat corpus: assistant-only masks from the real Qwen3
 * chat template, held-out loss going down, metrics.jsonl and a loadable checkpoint, --init and
 * --resume, and configs/model-demo.yaml matching the demo model.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadCheckpoint, loadModel } from "../model/checkpoint.ts";
import { demoModelConfig } from "../model/default-config.ts";
import { Rng } from "../model/rng.ts";
import { referenceKernels } from "../tensor/reference.ts";
import { loadQwen3Tokenizer } from "../tokenizer/index.ts";
import { TrainSchema, chatToExamples, runSft } from "./index.ts";

function syntheticChats(n: number, seed: number): string {
  const rng = new Rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = rng.int(10);
    const b = rng.int(10);
    lines.push(
      JSON.stringify({
        messages: [
          { role: "user", content: `${a}+${b}=?` },
          { role: "assistant", content: `${a + b}` },
        ],
      }),
    );
  }
  return lines.join("\n") + "\n";
}

const yaml = `
model:
  hidden_size: 32
  intermediate_size: 64
  num_hidden_layers: 1
  num_attention_heads: 2
  num_key_value_heads: 1
  head_dim: 16
  max_position_embeddings: 64
train:
  lr: 1.0e-2
  steps: 30
  batch_tokens: 1024
  warmup_steps: 3
  held_out: 0.1
  eval_every: 0
  log_every: 10
`;

describe("gymrl sft", () => {
  const tok = loadQwen3Tokenizer();

  test("configs/model-demo.yaml is the demo model, with valid hyperparameters", () => {
    const file = parseYaml(readFileSync(new URL("../../configs/model-demo.yaml", import.meta.url), "utf8"));
    const { vocab_size: _v, gymrl_vocab_map: _m, ...demo } = demoModelConfig;
    expect(file.model).toEqual(demo);
    expect(TrainSchema.parse(file.train).steps).toBe(300);
  });

  test("assistant masks cover the assistant reply and its <|im_end|>, nothing else", () => {
    const [ex] = chatToExamples(tok, {
      messages: [
        { role: "system", content: "Add." },
        { role: "user", content: "2+3=?" },
        { role: "assistant", content: "5" },
      ],
    });
    const masked = ex.tokens.filter((_, i) => ex.mask[i]);
    expect(tok.decode(masked)).toBe("<think>\n\n</think>\n\n5<|im_end|>");
    expect(ex.tokens[ex.tokens.length - 1]).not.toBe(tok.eosTokenId); // the trailing "\n" is unmasked
  });

  test("multi-turn chats whose renders do not extend become one example per assistant turn", () => {
    const exs = chatToExamples(tok, {
      messages: [
        { role: "user", content: "1+1=?" },
        { role: "assistant", content: "2" },
        { role: "user", content: "2+2=?" },
        { role: "assistant", content: "4" },
      ],
    });
    expect(exs.length).toBe(2);
    const texts = exs.map((e) => tok.decode(e.tokens.filter((_, i) => e.mask[i])));
    expect(texts).toEqual(["<think>\n\n</think>\n\n2<|im_end|>", "<think>\n\n</think>\n\n4<|im_end|>"]);
  });

  test("trains a fresh model, lowers held-out loss, writes metrics and a checkpoint", () => {
    const dir = mkdtempSync(join(tmpdir(), "gymrl-sft-"));
    writeFileSync(join(dir, "chats.jsonl"), syntheticChats(200, 1));
    writeFileSync(join(dir, "model.yaml"), yaml);
    const lines: string[] = [];
    const out = join(dir, "run");
    const { last, initialEvalLoss, model } = runSft({
      data: join(dir, "chats.jsonl"),
      config: join(dir, "model.yaml"),
      out,
      log: (l) => lines.push(l),
    });
    expect(last.eval_loss!).toBeLessThan(0.6 * initialEvalLoss);
    expect(lines.some((l) => /^step 10\/30 \| loss [\d.]+ \| lr .* tok\/s \| elapsed .* \| eta /.test(l))).toBe(true);
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(metrics.length).toBe(30);
    expect(metrics[29].step).toBe(30);
    // the compact vocabulary holds the corpus ids and the chat specials
    expect(model.vocab.has(tok.eosTokenId!)).toBe(true);
    expect(model.vocab.size).toBeLessThan(100);
    const back = loadModel(join(out, "checkpoint"), { kernels: referenceKernels });
    expect(Array.from(back.params.flat)).toEqual(Array.from(model.params.flat));

    // --init continues from the run's checkpoint (run directory accepted)
    const again = runSft({ data: join(dir, "chats.jsonl"), config: join(dir, "model.yaml"), out: join(dir, "run2"), init: out, steps: 2, log: () => {} });
    expect(again.initialEvalLoss).toBeCloseTo(last.eval_loss!, 4);

    // --resume restores optimizer and step: 30 done, continue to 32
    const resumed = runSft({
      data: join(dir, "chats.jsonl"),
      config: join(dir, "model.yaml"),
      out,
      init: out,
      resume: true,
      steps: 32,
      log: () => {},
    });
    expect(resumed.last.step).toBe(32);
    const all = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n");
    expect(all.length).toBe(32); // appended to the run's metrics
  });

  test("save_every keeps a checkpoint of each Nth step to start from later", () => {
    const dir = mkdtempSync(join(tmpdir(), "gymrl-sft-every-"));
    writeFileSync(join(dir, "chats.jsonl"), syntheticChats(100, 2));
    writeFileSync(join(dir, "model.yaml"), yaml.replace("  log_every: 10", "  log_every: 10\n  save_every: 12"));
    const out = join(dir, "run");
    runSft({ data: join(dir, "chats.jsonl"), config: join(dir, "model.yaml"), out, log: () => {} });
    expect(readdirSync(out).filter((f) => f.startsWith("checkpoint")).sort()).toEqual(["checkpoint", "checkpoint-12", "checkpoint-24"]);
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const at24 = loadCheckpoint(join(out, "checkpoint-24"), { kernels: referenceKernels });
    expect(at24.state?.step).toBe(24);
    expect(at24.state?.loss).toBe(metrics[23].loss);
    // not the end of the run: the final checkpoint trained 6 steps more
    const end = loadModel(join(out, "checkpoint"), { kernels: referenceKernels });
    expect(Array.from(at24.model.params.flat)).not.toEqual(Array.from(end.params.flat));
    // and it is a starting point like any other (--init with a checkpoint directory)
    const from = runSft({ data: join(dir, "chats.jsonl"), config: join(dir, "model.yaml"), out: join(dir, "run2"), init: join(out, "checkpoint-12"), steps: 1, log: () => {} });
    expect(from.last.step).toBe(1);
  });
});

describe("fileChatExamples", () => {
  test("renders a file once per chat format, and again when the file changes", async () => {
    const { fileChatExamples, readChats } = await import("./chat-examples.ts");
    const { loadChatFormat } = await import("../tokenizer/index.ts");
    const dir = mkdtempSync(join(tmpdir(), "gymrl-sft-cache-"));
    const path = join(dir, "chats.jsonl");
    writeFileSync(path, syntheticChats(5, 1));
    const format = loadChatFormat();
    const first = fileChatExamples(path, format);
    expect(first).toEqual(readChats(path).map((c) => chatToExamples(format, c)));
    // a second format object over the same tokenizer and template (phase 2 loads its own) hits the cache
    expect(fileChatExamples(path, loadChatFormat())).toBe(first);
    writeFileSync(path, syntheticChats(7, 2)); // other size: rendered again
    const second = fileChatExamples(path, format);
    expect(second).not.toBe(first);
    expect(second).toEqual(readChats(path).map((c) => chatToExamples(format, c)));
  });
});
