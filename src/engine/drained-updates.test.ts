import { describe, expect, test } from "vitest";
import { referenceKernels } from "../tensor/index.ts";
import { drainedUpdates } from "./drained-updates.ts";
import { createEmbeddedEngine } from "./embedded-engine.ts";
import { greedy, tinyEngineConfig, tinyModel } from "./testing.ts";

const config = tinyEngineConfig({ max_position_embeddings: 512 });

describe("drainedUpdates (in_flight_weight_updates: false)", () => {
  test("an update waits for running generations, which stay on one version; requests made meanwhile run on the new weights", async () => {
    const a = tinyModel(referenceKernels, 1, config);
    const b = tinyModel(referenceKernels, 9, config);
    const raw = await createEmbeddedEngine({ config, params: a.params.flat as Float32Array, slots: 4, maxModelLen: 512, kernels: "reference" });
    const engine = drainedUpdates(raw);
    try {
      const order: string[] = [];
      let update: Promise<number> | null = null;
      let late: Promise<unknown> | null = null;
      const running = engine
        .generate(greedy([2, 3, 5], 150), {
          onToken: () => {
            if (update) return;
            update = engine.updateWeights(b.params.flat as Float32Array).then((v) => (order.push("updated"), v));
            late = engine.generate(greedy([2, 3, 5], 5)).then((r) => (order.push("late"), r));
          },
        })
        .then((r) => (order.push("running"), r));
      const r = await running;
      expect(await update!).toBe(1);
      const l = (await late!) as Awaited<typeof running>;
      expect(order).toEqual(["running", "updated", "late"]);
      expect(r.policyVersions).toEqual([0]);
      expect(r.generationPolicyVersions!.every((v) => v === 0)).toBe(true);
      expect(l.policyVersions).toEqual([1]);
      expect(engine.waits.updateMs).toBeGreaterThan(0);
      expect(engine.waits.heldMs).toBeGreaterThan(0);
    } finally {
      await engine.close();
    }
  });
});
