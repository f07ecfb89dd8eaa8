/**
 * Connection slots per agent: how many /run requests may be on the wire to one agent at once.
 * The HTTP pool holds a bounded number of sockets per origin (1024, NeMo Gym's per-host limit)
 * and queues the rest inside undici, where a waiting fetch costs tens of KB; waiting here instead
 * costs a closure, so tens of thousands of rollouts can be in flight in the orchestrator (started,
 * deadline running) in little memory. A waiter is removed when its signal aborts (deadline, stop).
 */

export class Slots {
  private readonly used = new Map<string, number>();
  private readonly waiting = new Map<string, Set<() => void>>(); // insertion order = FIFO, O(1) removal

  constructor(private readonly perAgent: number) {}

  /** Resolves when a slot for `agent` is held; rejects with the signal's reason if it aborts first. */
  acquire(agent: string, signal: AbortSignal): Promise<void> {
    const n = this.used.get(agent) ?? 0;
    if (n < this.perAgent) {
      this.used.set(agent, n + 1);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const q = this.waiting.get(agent) ?? new Set<() => void>();
      this.waiting.set(agent, q);
      const grant = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        q.delete(grant);
        reject(signal.reason);
      };
      q.add(grant);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Hand the slot to the next waiter, or free it. */
  release(agent: string): void {
    const q = this.waiting.get(agent);
    const next = q?.values().next().value;
    if (q && next) {
      q.delete(next);
      next(); // the slot passes on: `used` is unchanged
    }
    else this.used.set(agent, (this.used.get(agent) ?? 1) - 1);
  }
}
