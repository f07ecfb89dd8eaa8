/**
 * A GenerationEngine test double: each call emits the next scripted token ids (then stops with
 * "stop" if the script ends in a stop id, else "length" at maxTokens), reporting a fixed logprob
 * per token. Lets protocol tests choose exactly which ids the "model" produced, e.g. a
 * non-canonical BPE split. Records every request it saw.
 */
import type { GenerateOptions, GenerateRequest, GenerateResult, GenerationEngine } from "../../src/engine/types.ts";

export class ScriptedEngine implements GenerationEngine {
  readonly requests: GenerateRequest[] = [];
  policyVersion = 0;
  lastFinish: GenerateResult["finishReason"] | null = null;
  private readonly script: number[][];

  constructor(
    script: number[][],
    readonly maxModelLen = 4096,
    /** Delay per token in ms, to exercise streaming and cancellation. */
    private readonly tokenDelayMs = 0,
  ) {
    this.script = script.map((s) => [...s]);
  }

  push(...outputs: number[][]): void {
    this.script.push(...outputs.map((s) => [...s]));
  }

  async generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    this.requests.push(request);
    const planned = this.script.shift() ?? [];
    const generationTokenIds: number[] = [];
    const generationLogProbs: number[] = [];
    let finishReason: GenerateResult["finishReason"] = "length";
    for (const tokenId of planned) {
      if (generationTokenIds.length >= request.maxTokens) break;
      if (options.signal?.aborted) {
        finishReason = "abort";
        break;
      }
      if (this.tokenDelayMs > 0) await new Promise((r) => setTimeout(r, this.tokenDelayMs));
      const logprob = -0.25 - 0.01 * generationTokenIds.length;
      generationTokenIds.push(tokenId);
      generationLogProbs.push(logprob);
      options.onToken?.({ tokenId, logprob });
      if (request.stopTokenIds.includes(tokenId)) {
        finishReason = "stop";
        break;
      }
    }
    if (options.signal?.aborted) finishReason = "abort";
    this.lastFinish = finishReason;
    return {
      promptTokenIds: [...request.promptTokenIds],
      generationTokenIds,
      generationLogProbs,
      finishReason,
      policyVersion: this.policyVersion,
      policyVersions: [this.policyVersion],
    };
  }

  async close(): Promise<void> {}
}
