/**
 * `gymrl export-gguf CKPT OUT.gguf [--dtype f32|f16] [--tokenizer DIR]`: a checkpoint directory as
 * one GGUF file for llama.cpp (src/model/gguf). A compact-vocabulary checkpoint without tokenizer
 * files takes the Qwen3 tokenizer gymrl ships with, as loading it does (tokenizer/chat-format.ts).
 */
import { defineCommand } from "citty";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

import { exportGguf, GgufExportError } from "../model/gguf/index.ts";
import { qwen3TokenizerDir } from "../tokenizer/index.ts";
import { reportingModelDirErrors } from "./model-dir-errors.ts";

/** Where the tokenizer files come from: --tokenizer, else the checkpoint, else (compact qwen3 only) the shipped Qwen3 files. */
function tokenizerDirFor(ckpt: string, given: string | undefined): string {
  if (given !== undefined) return given;
  if (existsSync(join(ckpt, "tokenizer.json"))) return ckpt;
  try {
    const cfg = JSON.parse(readFileSync(join(ckpt, "config.json"), "utf8")) as { model_type?: string; gymrl_vocab_map?: unknown };
    if (cfg.model_type === "qwen3" && Array.isArray(cfg.gymrl_vocab_map)) return qwen3TokenizerDir();
  } catch {
    // exportGguf reports the unreadable config.json
  }
  return ckpt;
}

export default defineCommand({
  meta: { name: "export-gguf", description: "Write a checkpoint as a GGUF file (F32 or F16) that llama.cpp loads" },
  args: {
    ckpt: { type: "positional", description: "checkpoint directory (config.json, model.safetensors, tokenizer files)", required: true },
    out: { type: "positional", description: "the .gguf file to write", required: true },
    dtype: { type: "string", description: "f32 (default) or f16: the dtype of the weight matrices", default: "f32" },
    tokenizer: { type: "string", description: "directory of tokenizer.json / tokenizer_config.json (default: the checkpoint's)" },
  },
  async run({ args }) {
    if (args.dtype !== "f32" && args.dtype !== "f16") {
      console.error(`gymrl export-gguf: --dtype must be f32 or f16, got "${args.dtype}"`);
      process.exit(1);
    }
    const dtype = args.dtype;
    await reportingModelDirErrors("export-gguf", () => {
      try {
        const r = exportGguf(args.ckpt, args.out, { dtype, tokenizerDir: tokenizerDirFor(args.ckpt, args.tokenizer) });
        const mb = (statSync(args.out).size / 2 ** 20).toFixed(1);
        console.log(`gymrl export-gguf: ${args.out} (${r.architecture}, ${dtype}, ${r.tensors} tensors, ${r.vocabSize} ids, ${mb} MiB)`);
        if (r.unscoredIds.length > 0) {
          console.log(
            `gymrl export-gguf: compact vocabulary: llama.cpp scores ${r.unscoredIds.length} ids 0 that gymrl never generates; ban them with a logit bias for identical sampling`,
          );
        }
      } catch (e) {
        if (e instanceof GgufExportError) {
          console.error(`gymrl export-gguf: ${e.message}`);
          process.exit(1);
        }
        throw e;
      }
    });
  },
});
