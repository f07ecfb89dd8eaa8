/**
 * `gymrl serve`: the OpenAI-compatible server over the embedded engine, which also answers SGLang's
 * /generate and control routes and vLLM's dev-mode control routes (pause, resume, weight updates
 * from a checkpoint directory), so N of them form a remote engine pool (src/engine/remote).
 */
import { defineCommand } from "citty";
import { serve } from "../server/serve.ts";
import { reportingModelDirErrors } from "./model-dir-errors.ts";
import type { SamplingProfile } from "../server/sampling.ts";

export default defineCommand({
  meta: {
    name: "serve",
    description: "Serve a model over an OpenAI-compatible HTTP API with exact token ids and logprobs, plus SGLang's /generate and the SGLang and vLLM weight-update routes",
  },
  args: {
    model: {
      type: "string",
      description: "model directory: a Hugging Face Qwen3 / Llama 3 checkpoint (config.json, weights, tokenizer files) or one gymrl wrote",
    },
    "random-init": { type: "boolean", description: "serve freshly initialised weights (for protocol tests)" },
    host: { type: "string", default: "127.0.0.1", description: "address to bind" },
    port: { type: "string", default: "8000", description: "port (0 picks a free one)" },
    "served-model-name": { type: "string", description: "model name clients send (default: the checkpoint path)" },
    "api-key": { type: "string", description: "require Authorization: Bearer <key>" },
    "max-model-len": { type: "string", description: "longest prompt + generation" },
    slots: { type: "string", description: "sequences decoded at once (default 64)" },
    kernels: { type: "string", default: "auto", description: "auto | native | reference" },
    "sampling-profile": {
      type: "string",
      description: "allowed temperature,top_p pairs, e.g. '1,1;0,1' (off-profile requests get 400)",
    },
    seed: { type: "string", description: "random-init seed" },
    "allow-special-tokens-in-content": {
      type: "boolean",
      description: "encode special-token text inside message content as the token, as vLLM does (parity tests; by default content cannot forge turn boundaries)",
    },
  },
  async run({ args }) {
    if (!args.model === !args["random-init"]) {
      throw new Error("give --model DIR or --random-init (exactly one)");
    }
    if (args["random-init"]) {
      console.error("gymrl serve: --random-init: serving randomly initialised weights; outputs are noise (protocol tests only)");
    }
    const running = await reportingModelDirErrors("serve", () => serve({
      modelDir: args.model,
      randomInit: args["random-init"],
      host: args.host,
      port: intArg(args.port, "--port"),
      modelName: args["served-model-name"],
      apiKey: args["api-key"],
      maxModelLen: optionalInt(args["max-model-len"], "--max-model-len"),
      slots: optionalInt(args.slots, "--slots"),
      kernels: kernelsArg(args.kernels),
      samplingProfiles: args["sampling-profile"] ? parseProfiles(args["sampling-profile"]) : undefined,
      seed: optionalInt(args.seed, "--seed"),
      allowSpecialTokensInContent: args["allow-special-tokens-in-content"] === true,
    }));
    console.error(`gymrl serve: model ${running.modelName}, max_model_len ${running.engine.maxModelLen}, kernels ${running.engine.kernels}`);
    if (args["allow-special-tokens-in-content"]) {
      console.error("gymrl serve: --allow-special-tokens-in-content: message content can write special tokens (turn boundaries), as in vLLM");
    }
    console.log(`${running.baseUrl}/v1`);
    const stop = () => {
      void running.close().then(() => process.exit(0));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  },
});

function intArg(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} expects a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

function optionalInt(v: string | undefined, name: string): number | undefined {
  return v === undefined ? undefined : intArg(v, name);
}

function kernelsArg(v: string): "auto" | "native" | "reference" {
  if (v === "auto" || v === "native" || v === "reference") return v;
  throw new Error(`--kernels expects auto, native or reference, got ${JSON.stringify(v)}`);
}

function parseProfiles(spec: string): SamplingProfile[] {
  return spec.split(";").map((pair, i) => {
    const [t, p] = pair.split(",").map(Number);
    if (!Number.isFinite(t) || !Number.isFinite(p)) throw new Error(`--sampling-profile: '${pair}' is not 'temperature,top_p'`);
    return { name: i === 0 ? "train" : i === 1 ? "validation" : `profile${i}`, temperature: t, topP: p };
  });
}
