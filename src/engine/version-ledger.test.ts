import { describe, expect, test } from "vitest";
import type { GenerateResult } from "./types.ts";
import { VersionLedger } from "./version-ledger.ts";

const result = (gen: number[], versions: number[], perToken?: number[], finishReason: GenerateResult["finishReason"] = "stop"): GenerateResult => ({
  promptTokenIds: [1],
  generationTokenIds: gen,
  generationLogProbs: gen.map(() => -1),
  finishReason,
  policyVersion: versions[0],
  policyVersions: versions,
  ...(perToken ? { generationPolicyVersions: perToken } : {}),
});

describe("VersionLedger", () => {
  test("finds a span by seed and tokens (the record may hold one stop token more), per token or the oldest version", () => {
    const l = new VersionLedger();
    l.note(7, result([5, 6, 9], [3, 4], [3, 4, 4]));
    l.note(7, result([5, 8], [2, 3], undefined, "length")); // no per-token record: every token gets the oldest, 2
    expect(l.lookup(7, [5, 6, 9])?.versions).toEqual([3, 4, 4]);
    expect(l.lookup(7, [5, 6])?.versions).toEqual([3, 4, 4]); // stop token 9 dropped by a proxy
    expect(l.lookup(7, [5, 8])).toMatchObject({ versions: [2, 2], perToken: false });
    expect(l.lookup(7, [5])).toBeNull(); // [5, 6, 9] is two longer; [5, 8] ended on a length limit, so 8 is no stop token
    expect(l.lookup(8, [5, 6, 9])).toBeNull();
    l.forget([7]);
    expect([l.size, l.lookup(7, [5, 6, 9])]).toEqual([0, null]);
  });

  test("bounded: the oldest seeds go first; recording() passes requests through and notes seeded ones", async () => {
    const l = new VersionLedger(2);
    for (const s of [1, 2, 3]) l.note(s, result([s], [0], [0]));
    expect([l.lookup(1, [1]), l.lookup(3, [3])?.versions]).toEqual([null, [0]]);
    const inner = {
      maxModelLen: 9,
      policyVersion: 4,
      generate: async () => result([4, 4], [4], [4, 4]),
      updateWeights: async () => 5,
      close: async () => {},
    };
    const e = new VersionLedger().recording(inner);
    const seeded = { promptTokenIds: [1], sampling: { temperature: 1, topP: 1, topK: 0, seed: 11 }, maxTokens: 2, stopTokenIds: [] };
    expect((await e.generate(seeded)).generationTokenIds).toEqual([4, 4]);
    expect([e.maxModelLen, e.policyVersion, await e.updateWeights(new Float32Array(1))]).toEqual([9, 4, 5]);
  });
});
