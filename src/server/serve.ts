/**
 * `gymrl serve` as a function: an embedded engine (a checkpoint, or random weights for protocol
 * tests) behind the OpenAI-compatible server. The chat format (tokenizer, template, output parser,
 * stop ids) is the model directory's, read by the tokenizer layer's `loadChatFormat`; random
 * weights use the bundled Qwen3 files.
 */
import { createEmbeddedEngine, type EmbeddedEngine, type KernelPreference } from "../engine/index.ts";
import { totalmem } from "node:os";
import { checkModelDir } from "../model/checkpoint.ts";
import { dimsOf, type ModelConfig } from "../model/config.ts";
import { demoConfigFor } from "../model/default-config.ts";
import { buildVocabMap } from "../model/vocab.ts";
import { loadChatFormat, type ChatFormat, type Tokenizer } from "../tokenizer/index.ts";
import { createOpenAIServer } from "./app.ts";
import { listen } from "./http.ts";
import { checkBind } from "./http-policy.ts";
import type { SamplingProfile } from "./sampling.ts";
import { chatTokenizerFrom, outputParserFrom } from "./tokenizer-adapter.ts";

export interface ServeOptions {
  /** Checkpoint directory (config.json + model.safetensors [+ tokenizer files]). */
  modelDir?: string;
  /** Serve freshly initialised weights (vLLM's dummy load format): for protocol tests only. */
  randomInit?: boolean;
  seed?: number;
  host?: string;
  port?: number;
  modelName?: string;
  apiKey?: string;
  maxModelLen?: number;
  slots?: number;
  kernels?: KernelPreference;
  samplingProfiles?: SamplingProfile[];
  thread?: "worker" | "main";
  /**
   * Encode special-token text inside message content as the token, as vLLM does (parity tests).
   * Off by default: content cannot forge turn boundaries; only the template's markers are ids.
   */
  allowSpecialTokensInContent?: boolean;
}

export interface RunningServe {
  baseUrl: string;
  modelName: string;
  engine: EmbeddedEngine;
  tokenizer: Tokenizer;
  /** The model directory's chat format (family, template, parser, stop ids). */
  format: ChatFormat;
  close(): Promise<void>;
}

export async function serve(opts: ServeOptions): Promise<RunningServe> {
  if (!opts.modelDir === !opts.randomInit) throw new Error("serve needs exactly one of modelDir and randomInit");
  // Both checks run here, before the engine's worker starts: a broken directory fails with one
  // error naming the file and field (the weights are read by the worker).
  checkBind(opts.host ?? "127.0.0.1", Boolean(opts.apiKey), { server: "OpenAI server", keyHint: "pass --api-key KEY" });
  const format = loadChatFormat(opts.modelDir);
  if (opts.modelDir) checkKvCacheFits(checkModelDir(opts.modelDir), opts.slots ?? 64, opts.maxModelLen);
  const { tokenizer, stopTokenIds } = format;
  const common = {
    maxModelLen: opts.maxModelLen,
    slots: opts.slots,
    kernels: opts.kernels,
    eosTokenIds: stopTokenIds,
    thread: opts.thread,
  };
  const engine = opts.modelDir
    ? await createEmbeddedEngine({ ...common, modelDir: opts.modelDir })
    : await createEmbeddedEngine({ ...common, config: randomInitConfig(tokenizer), seed: opts.seed ?? 0 });
  const modelName = opts.modelName ?? (opts.modelDir ? opts.modelDir : "gymrl-random-init");
  const server = createOpenAIServer({
    engine,
    tokenizer: chatTokenizerFrom(format, { contentSpecialTokens: opts.allowSpecialTokensInContent ? "parse" : "literal" }),
    parser: outputParserFrom(format.outputParser),
    modelName,
    stopTokenIds,
    samplingProfiles: opts.samplingProfiles,
    apiKey: opts.apiKey,
  });
  let baseUrl: string;
  try {
    baseUrl = await listen(server, opts.host ?? "127.0.0.1", opts.port ?? 0);
  } catch (e) {
    await engine.close();
    throw e;
  }
  return {
    baseUrl,
    modelName,
    engine,
    tokenizer,
    format,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await engine.close();
    },
  };
}

/** Options that cannot work on this machine (the message names the flags to change). */
export class ServeOptionsError extends Error {
  override name = "ServeOptionsError";
}

/**
 * The engine holds float32 keys and values for every slot at full length up front; a real model's
 * max_position_embeddings (40,960 for Qwen3) times 64 slots does not fit in memory, so refuse it
 * with the flags that size the cache instead of failing inside the engine.
 */
function checkKvCacheFits(config: ModelConfig, slots: number, maxModelLen: number | undefined): void {
  const dm = dimsOf(config);
  const len = maxModelLen ?? dm.maxPos;
  const bytes = slots * len * dm.l * dm.hkv * dm.d * 2 * 4;
  const limit = 0.8 * totalmem();
  if (bytes <= limit) return;
  const gib = (b: number) => (b / 2 ** 30).toFixed(1);
  throw new ServeOptionsError(
    `the KV cache for ${slots} slots × ${len} tokens (${dm.l} layers × ${dm.hkv} KV heads × head_dim ${dm.d}, float32) needs ` +
      `${gib(bytes)} GiB, more than 80% of this machine's ${gib(totalmem())} GiB: lower --max-model-len ` +
      `(default: config.json max_position_embeddings, ${dm.maxPos}) or --slots`,
  );
}

/**
 * The demo model over a compact vocabulary of the first 1024 tokenizer ids plus every added token
 * (chat markers, <think>, <tool_call>), so random weights can still end turns and call tools.
 */
function randomInitConfig(tok: Tokenizer) {
  const ids = Array.from({ length: 1024 }, (_, i) => i);
  return demoConfigFor(buildVocabMap([...ids, ...tok.addedTokens.values()]));
}
