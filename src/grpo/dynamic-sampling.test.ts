import { describe, expect, test } from "vitest";
import { refillStatus, selectVaryingGroups } from "./dynamic-sampling.ts";

describe("dynamic sampling", () => {
  test("keeps whole groups whose rewards vary, including a lone success", () => {
    const sel = selectVaryingGroups([1, 0, 0, 0, 1, 1, 0, 0, 0.5, 0.5], [0, 0, 0, 0, 1, 1, 2, 2, 3, 3]);
    expect(sel.keptGroups).toEqual([0]);
    expect(sel.droppedGroups).toEqual([1, 2, 3]);
    expect(sel.keep).toEqual([0, 1, 2, 3]);
  });

  test("tells how many groups are still needed, and stops after the last allowed batch", () => {
    const q = { numPromptsPerStep: 8, maxGenBatches: 3, batchMultiplier: 1.5 };
    expect(refillStatus({ ...q, groupsCollected: 5, genBatches: 1 })).toEqual({ kind: "need_more", groupsNeeded: 3, promptsToGenerate: 12 });
    expect(refillStatus({ ...q, groupsCollected: 11, genBatches: 2 })).toEqual({ kind: "complete", groupsToDiscard: 3 });
    expect(refillStatus({ ...q, groupsCollected: 8, genBatches: 4 })).toEqual({ kind: "complete", groupsToDiscard: 0 });
    expect(refillStatus({ ...q, groupsCollected: 7, genBatches: 3 }).kind).toBe("need_more"); // NeMo RL: ≤ max continues
    const done = refillStatus({ ...q, groupsCollected: 7, genBatches: 4 });
    expect(done.kind).toBe("exhausted");
    if (done.kind === "exhausted") expect(done.message).toMatch(/7\/8/);
  });
});
