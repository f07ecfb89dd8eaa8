/**
 * Metrics of a collection, for the whole batch and per agent (NeMo RL's rollout metrics, §4.6, plus
 * what its collector does not report: failures by class, retries, contiguity breaks, queueing and
 * per-rollout latency). Outcomes are added as they stream in; `summary()` can be taken any time.
 * Keys are snake_case: the summary is written to files and logged as it is.
 */
import type { RolloutOutcome } from "./outcome.ts";
import { summarize, type Stats } from "./stats.ts";
import type { NoTrainableCause } from "./trajectory.ts";

export interface RolloutMetrics {
  rollouts: number;
  succeeded: number;
  failed: number;
  samples: number;
  reward: Stats;
  /** every other numeric or boolean top-level field of the verify responses (free env metrics). */
  verify_fields: Record<string, Stats>;
  /** per trainable sample: model calls, all tokens, generated tokens. */
  turns_per_sample: Stats;
  total_tokens_per_sample: Stats;
  gen_tokens_per_sample: Stats;
  /** per model call with generated tokens. */
  gen_tokens_per_turn: Stats;
  /** fraction of succeeded rollouts that stopped on a length limit. */
  truncation_rate: number;
  no_trainable_rollouts: Record<NoTrainableCause, number>;
  contiguity_breaks: number;
  broken_rollouts: number;
  split_rollouts: number;
  dropped_rollouts: number;
  empty_generation_calls: number;
  failures_by_class: Record<string, number>;
  /** /run attempts beyond the first, over all rollouts. */
  retries: number;
  timing: {
    /** first send to last outcome. */
    wall_s: number;
    rollouts_per_s: number;
    queue_ms: Stats;
    rollout_ms: Stats;
  };
}

export interface CollectionMetrics extends RolloutMetrics {
  per_agent: Record<string, RolloutMetrics>;
}

const SKIP_FIELDS = new Set(["reward"]);

/** The raw values of one scope (the batch, or one agent). */
class Bucket {
  rollouts = 0;
  succeeded = 0;
  samples = 0;
  reward: number[] = [];
  verify = new Map<string, number[]>();
  turns: number[] = [];
  totalTokens: number[] = [];
  genTokens: number[] = [];
  genPerTurn: number[] = [];
  truncated = 0;
  noTrainable: Record<NoTrainableCause, number> = { prompt_exceeds_max_model_len: 0, only_untrained_items: 0, no_token_ids: 0 };
  breaks = 0;
  broken = 0;
  split = 0;
  dropped = 0;
  emptyGenerationCalls = 0;
  failures: Record<string, number> = {};
  retries = 0;
  queueMs: number[] = [];
  runMs: number[] = [];
  first = Infinity;
  last = -Infinity;

  add(o: RolloutOutcome, at: number): void {
    this.rollouts++;
    this.retries += Math.max(0, o.timing.attempts - 1);
    this.queueMs.push(o.timing.queuedMs);
    this.runMs.push(o.timing.runMs);
    this.first = Math.min(this.first, at - o.timing.runMs);
    this.last = Math.max(this.last, at);
    if (o.kind === "failed") {
      this.failures[o.errorClass] = (this.failures[o.errorClass] ?? 0) + 1;
      return;
    }
    this.succeeded++;
    this.reward.push(o.result.reward as number);
    for (const [k, v] of Object.entries(o.result)) {
      if (SKIP_FIELDS.has(k) || k.startsWith("_ng_")) continue;
      const x = typeof v === "number" && Number.isFinite(v) ? v : typeof v === "boolean" ? Number(v) : undefined;
      if (x === undefined) continue;
      if (!this.verify.has(k)) this.verify.set(k, []);
      this.verify.get(k)!.push(x);
    }
    const c = o.conversion;
    this.breaks += c.breaks.length;
    if (c.breaks.length > 0) this.broken++;
    if (c.outcome === "split") this.split++;
    if (c.outcome === "dropped") this.dropped++;
    this.emptyGenerationCalls += c.emptyGenerationCalls;
    const cause = c.samples[0]?.noTrainableTokens;
    if (cause) this.noTrainable[cause]++;
    if (c.samples.some((s) => s.truncated)) this.truncated++;
    for (const s of c.samples) {
      if (s.noTrainableTokens) continue;
      this.samples++;
      this.turns.push(s.turns);
      this.totalTokens.push(s.tokens.length);
      let gen = 0;
      for (const span of s.spans) {
        if (span.kind !== "generation") continue;
        gen += span.end - span.start;
        this.genPerTurn.push(span.end - span.start);
      }
      this.genTokens.push(gen);
    }
  }

  summary(): RolloutMetrics {
    const wall = this.rollouts > 0 ? (this.last - this.first) / 1000 : 0;
    return {
      rollouts: this.rollouts,
      succeeded: this.succeeded,
      failed: this.rollouts - this.succeeded,
      samples: this.samples,
      reward: summarize(this.reward),
      verify_fields: Object.fromEntries([...this.verify].map(([k, v]) => [k, summarize(v)])),
      turns_per_sample: summarize(this.turns),
      total_tokens_per_sample: summarize(this.totalTokens),
      gen_tokens_per_sample: summarize(this.genTokens),
      gen_tokens_per_turn: summarize(this.genPerTurn),
      truncation_rate: this.succeeded > 0 ? this.truncated / this.succeeded : 0,
      no_trainable_rollouts: { ...this.noTrainable },
      contiguity_breaks: this.breaks,
      broken_rollouts: this.broken,
      split_rollouts: this.split,
      dropped_rollouts: this.dropped,
      empty_generation_calls: this.emptyGenerationCalls,
      failures_by_class: { ...this.failures },
      retries: this.retries,
      timing: {
        wall_s: wall,
        rollouts_per_s: wall > 0 ? this.rollouts / wall : 0,
        queue_ms: summarize(this.queueMs),
        rollout_ms: summarize(this.runMs),
      },
    };
  }
}

export class MetricsAccumulator {
  private readonly batch = new Bucket();
  private readonly agents = new Map<string, Bucket>();

  add(o: RolloutOutcome, at = performance.now()): void {
    this.batch.add(o, at);
    let b = this.agents.get(o.agent);
    if (!b) this.agents.set(o.agent, (b = new Bucket()));
    b.add(o, at);
  }

  summary(): CollectionMetrics {
    return { ...this.batch.summary(), per_agent: Object.fromEntries([...this.agents].map(([k, b]) => [k, b.summary()])) };
  }
}
