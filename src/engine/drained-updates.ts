/**
 * Weight updates without in-flight generations (NeMo RL's `in_flight_weight_updates: false`):
 * the same engine, except that an update first holds new requests, waits until every running
 * generation has finished on the old weights, applies the update, then lets the held requests in.
 * No sequence then spans two versions. (With in-flight updates, the default of the engines here,
 * running sequences continue on the new weights with their KV cache kept.)
 */
import type { GenerateOptions, GenerateRequest, GenerateResult, UpdatableGenerationEngine, WeightUpdate } from "./types.ts";

export interface DrainedEngine extends UpdatableGenerationEngine {
  /** ms updates waited for running generations to finish, and ms requests were held for an update, so far */
  readonly waits: { updateMs: number; heldMs: number };
}

export function drainedUpdates(engine: UpdatableGenerationEngine): DrainedEngine {
  let running = 0;
  let gate: Promise<void> | null = null;
  let drained: (() => void) | null = null;
  const waits = { updateMs: 0, heldMs: 0 };
  const done = () => {
    running--;
    if (running === 0) drained?.();
  };
  return {
    get maxModelLen() {
      return engine.maxModelLen;
    },
    get policyVersion() {
      return engine.policyVersion;
    },
    waits,
    async generate(req: GenerateRequest, options?: GenerateOptions): Promise<GenerateResult> {
      if (gate) {
        const t0 = performance.now();
        while (gate) await gate;
        waits.heldMs += performance.now() - t0;
      }
      running++;
      try {
        return await engine.generate(req, options);
      } finally {
        done();
      }
    },
    async updateWeights(u: WeightUpdate | Float32Array): Promise<number> {
      while (gate) await gate; // one update at a time
      let open!: () => void;
      gate = new Promise<void>((r) => (open = r));
      try {
        const t0 = performance.now();
        if (running > 0) await new Promise<void>((r) => (drained = r));
        drained = null;
        waits.updateMs += performance.now() - t0;
        return await engine.updateWeights(u);
      } finally {
        gate = null;
        open();
      }
    },
    close: () => engine.close(),
  };
}
