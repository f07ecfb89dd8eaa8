/** Everything a request handler of the OpenAI-compatible server needs. */
import type { GenerationEngine } from "../engine/types.ts";
import type { ChatTokenizer } from "./chat-prompt.ts";
import type { OutputParser } from "./output.ts";
import type { SamplingProfile } from "./sampling.ts";

export interface ServerContext {
  engine: GenerationEngine;
  tokenizer: ChatTokenizer;
  parser: OutputParser;
  /** Served model name; requests naming another model get 404, as vLLM answers. */
  modelName: string;
  /** Token ids that end a generation (the model's EOS set). */
  stopTokenIds: readonly number[];
  /** When set, only these (temperature, top_p) pairs are served. */
  samplingProfiles?: readonly SamplingProfile[];
  /** Prefix for generated ids, e.g. "chatcmpl-". */
  newId(prefix: string): string;
}
