/**
 * A generation watched for stop strings (or streamed) decodes a bounded window per token: the ids
 * decoded in total grow linearly with the generation, where decoding the whole text after every
 * token made it quadratic. Stop strings and the final text are unchanged.
 */
import { expect, it } from "vitest";
import type { ServerContext } from "../../src/server/context.ts";
import { runGeneration } from "../../src/server/generation.ts";
import { chatTokenizerFrom, qwenOutputParser } from "../../src/server/tokenizer-adapter.ts";
import { loadQwen3Tokenizer } from "../../src/tokenizer/index.ts";
import { ScriptedEngine } from "../support/scripted-engine.ts";

const tok = loadQwen3Tokenizer();

it("a 3,000-token generation with a stop string decodes O(n) ids and stops where the text says", async () => {
  const body = tok.encode("The quick brown fox jumps over the lazy dog. 数字 🫠 ".repeat(250));
  const ids = [...body, ...tok.encode(" THE END and more")];
  expect(body.length).toBeGreaterThan(3000);
  const engine = new ScriptedEngine([ids], 1 << 20);
  const base = chatTokenizerFrom(tok);
  let decoded = 0;
  const tokenizer = { ...base, decode: (w: readonly number[]) => ((decoded += w.length), base.decode(w)) };
  const ctx = { engine, tokenizer, parser: qwenOutputParser, modelName: "m", stopTokenIds: [151645], newId: (p: string) => p } as ServerContext;
  const streamed: string[] = [];
  const run = await runGeneration(ctx, {
    promptTokenIds: [1, 2],
    maxTokens: ids.length,
    stop: ["THE END"],
    topLogprobs: 0,
    signal: new AbortController().signal,
    onText: (t) => streamed.push(t),
  });
  expect(run.finishReason).toBe("stop");
  expect(run.stopReason).toBe("THE END");
  expect(run.text).toBe(tok.decode(body, { skipSpecial: true }) + " ");
  expect(streamed.at(-1)!.length).toBeLessThanOrEqual(run.text.length);
  expect(decoded).toBeLessThan(15 * ids.length); // quadratic was ~ n²/2 ≈ 5,000,000
});
