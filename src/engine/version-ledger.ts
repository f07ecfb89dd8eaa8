/**
 * The engine's own record of which policy version produced each generated token, kept beside the
 * HTTP path. Rollouts reach the trainer through Gym (agent → model proxy → OpenAI server), whose
 * wire carries token ids and logprobs but no versions; async GRPO needs them to bound a
 * trajectory's age. `recording(engine)` is the same engine with every finished generation noted
 * under its request seed (each rollout has its own, derived per rollout), and `lookup(seed, ids)`
 * finds the record whose generated tokens a trajectory's generation span is (a prefix of: a proxy
 * may drop the stop token). Bounded: the oldest records go first.
 */
import type { GenerateOptions, GenerateRequest, GenerateResult, UpdatableGenerationEngine, WeightUpdate } from "./types.ts";

export interface LedgerRecord {
  generationTokenIds: readonly number[];
  /** per generated token; when the engine cannot say per token, every token gets the oldest version it reported */
  versions: readonly number[];
  /** whether `versions` came token by token from the engine */
  perToken: boolean;
  /** ended on a stop token (which a proxy may leave out of the span) */
  stopped: boolean;
}

export class VersionLedger {
  private readonly bySeed = new Map<number, LedgerRecord[]>();
  private count = 0;

  constructor(private readonly maxRecords = 8192) {}

  /** The engine, recording every generation that carries a seed. */
  recording(engine: UpdatableGenerationEngine): UpdatableGenerationEngine {
    const note = (req: GenerateRequest, r: GenerateResult) => {
      if (req.sampling.seed !== undefined && r.generationTokenIds.length > 0) this.note(req.sampling.seed, r);
      return r;
    };
    return {
      get maxModelLen() {
        return engine.maxModelLen;
      },
      get policyVersion() {
        return engine.policyVersion;
      },
      generate: async (req: GenerateRequest, options?: GenerateOptions) => note(req, await engine.generate(req, options)),
      updateWeights: (u: WeightUpdate | Float32Array) => engine.updateWeights(u),
      close: () => engine.close(),
    };
  }

  note(seed: number, r: GenerateResult): void {
    const perToken = r.generationPolicyVersions !== undefined && r.generationPolicyVersions.length === r.generationTokenIds.length;
    const oldest = Math.min(...r.policyVersions);
    const rec: LedgerRecord = {
      generationTokenIds: r.generationTokenIds,
      versions: perToken ? r.generationPolicyVersions! : r.generationTokenIds.map(() => oldest),
      perToken,
      stopped: r.finishReason === "stop",
    };
    const list = this.bySeed.get(seed);
    if (list) list.push(rec);
    else this.bySeed.set(seed, [rec]);
    if (++this.count > this.maxRecords) this.evictOldest();
  }

  /**
   * The record of the tokens `ids` (a generation span under `seed`): the same tokens, else the same
   * plus the stop token the generation ended on; null when no record has them.
   */
  lookup(seed: number, ids: ArrayLike<number>): LedgerRecord | null {
    const recs = this.bySeed.get(seed) ?? [];
    const begins = (rec: LedgerRecord) => {
      for (let i = 0; i < ids.length; i++) if (rec.generationTokenIds[i] !== ids[i]) return false;
      return true;
    };
    return (
      recs.find((r) => r.generationTokenIds.length === ids.length && begins(r)) ??
      recs.find((r) => r.stopped && r.generationTokenIds.length === ids.length + 1 && begins(r)) ??
      null
    );
  }

  /** Drops the records of these seeds (their rollouts have been read). */
  forget(seeds: Iterable<number>): void {
    for (const s of seeds) {
      this.count -= this.bySeed.get(s)?.length ?? 0;
      this.bySeed.delete(s);
    }
  }

  get size(): number {
    return this.count;
  }

  private evictOldest(): void {
    const first = this.bySeed.keys().next();
    if (!first.done) this.forget([first.value]);
  }
}
