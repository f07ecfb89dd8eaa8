/**
 * `gymrl sft`: flags only; the run is `runSft` in src/sft (chats in the OpenAI chat shape, loss on
 * assistant tokens, metrics.jsonl + run.json + checkpoint/ in the run directory).
 */
import { defineCommand } from "citty";
import { runSft } from "../sft/index.ts";
import { reportingModelDirErrors } from "./model-dir-errors.ts";

const sftCommand = defineCommand({
  meta: { name: "sft", description: "Supervised fine-tuning on chat conversations (loss on assistant tokens)" },
  args: {
    data: { type: "string", required: true, description: "JSONL of {messages, tools?} conversations" },
    config: { type: "string", required: true, description: "model.yaml: model config fields (model:) and hyperparameters (train:)" },
    out: { type: "string", required: true, description: "run directory (metrics.jsonl, run.json, checkpoint/)" },
    init: {
      type: "string",
      description: "start from this model directory (a Hugging Face Qwen3 / Llama 3 checkpoint: its tokenizer and chat template are used) or run directory",
    },
    resume: { type: "boolean", description: "with --init: restore optimizer state and step, continue to train.steps" },
    steps: { type: "string", description: "override train.steps" },
  },
  async run({ args }) {
    await reportingModelDirErrors("sft", () => runSft({
      data: args.data,
      config: args.config,
      out: args.out,
      init: args.init,
      resume: args.resume,
      steps: args.steps ? Number(args.steps) : undefined,
    }));
  },
});

export default sftCommand;
