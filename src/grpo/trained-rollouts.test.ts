import { mkdtempSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadQwen3Tokenizer } from "../tokenizer/index.ts";
import {
  listTrainedRolloutSteps,
  pruneTrainedRollouts,
  readTrainedRollouts,
  ROLLOUTS_DIR,
  stepFileName,
  tokenPieces,
  writeTrainedRollouts,
  type TrainedRolloutRecord,
} from "./trained-rollouts.ts";

describe("tokenPieces", () => {
  // a byte-level toy vocabulary: each id is one byte, decoded as UTF-8 with replacement (as BPE does)
  const utf8 = new TextDecoder("utf-8");
  const decodeBytes = (ids: number[]) => utf8.decode(Uint8Array.from(ids));

  it("puts a multi-byte character on the token that completes it; the pieces join to the whole decode", () => {
    const ids = [...new TextEncoder().encode("a€b😀")];
    const pieces = tokenPieces(ids, decodeBytes);
    expect(pieces).toHaveLength(ids.length);
    expect(pieces).toEqual(["a", "", "", "€", "b", "", "", "", "😀"]);
    expect(pieces.join("")).toBe("a€b😀");
  });

  it("a character cut at the end of the sequence still yields its replacement text", () => {
    const ids = [...new TextEncoder().encode("x€")].slice(0, 3);
    const pieces = tokenPieces(ids, decodeBytes);
    expect(pieces.join("")).toBe(decodeBytes(ids));
  });

  it("Qwen3's tokenizer: pieces join to decode(ids) on mixed-script text", () => {
    const tok = loadQwen3Tokenizer();
    const text = "<|im_start|>assistant\nThe answer is 42 — 答案是四十二 🙂 <tool_call>{\"x\": 1}</tool_call><|im_end|>";
    const ids = tok.encode(text);
    const pieces = tokenPieces(ids, (x) => tok.decode(x));
    expect(pieces).toHaveLength(ids.length);
    expect(pieces.join("")).toBe(tok.decode(ids));
    expect(pieces.join("")).toBe(text);
  });
});

describe("step files", () => {
  const rec = (step: number, group: number): TrainedRolloutRecord => ({
    step,
    group,
    agent: "a",
    task: group,
    rollout: 0,
    env_reward: 1,
    reward: 1,
    extra: {},
    input: [],
    output: [],
    samples: [],
    failed: false,
  });

  it("lists steps numerically and reads a step back", () => {
    const dir = mkdtempSync(join(tmpdir(), "gymrl-tr-"));
    expect(listTrainedRolloutSteps(dir)).toEqual([]);
    expect(readTrainedRollouts(dir, 1)).toBeNull();
    for (const s of [10, 2, 1]) writeTrainedRollouts(dir, s, [rec(s, 0), rec(s, 1)]);
    writeFileSync(join(dir, ROLLOUTS_DIR, "notes.txt"), "not a step");
    expect(listTrainedRolloutSteps(dir)).toEqual([1, 2, 10]);
    expect(readTrainedRollouts(dir, 10)).toEqual({ records: [rec(10, 0), rec(10, 1)], badLines: 0 });
  });

  it("prune keeps the steps up to a resume point; 0 clears a replaced run", () => {
    const dir = mkdtempSync(join(tmpdir(), "gymrl-tr-"));
    for (const s of [1, 2, 3, 4]) writeTrainedRollouts(dir, s, [rec(s, 0)]);
    pruneTrainedRollouts(dir, 2);
    expect(listTrainedRolloutSteps(dir)).toEqual([1, 2]);
    pruneTrainedRollouts(dir, 0);
    expect(listTrainedRolloutSteps(dir)).toEqual([]);
  });

  it("counts a cut last line instead of throwing", () => {
    const dir = mkdtempSync(join(tmpdir(), "gymrl-tr-"));
    writeTrainedRollouts(dir, 3, [rec(3, 0)]);
    appendFileSync(join(dir, ROLLOUTS_DIR, stepFileName(3)), JSON.stringify(rec(3, 1)).slice(0, 20));
    expect(readTrainedRollouts(dir, 3)).toEqual({ records: [rec(3, 0)], badLines: 1 });
  });
});
