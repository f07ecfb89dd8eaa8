/**
 * Per-rollout state of a resources server, keyed by the session id in its cookie. Sessions idle
 * longer than `ttlMs` are dropped, so a long training run does not keep every rollout's state, and
 * at most `maxSessions` are kept (the least recently used goes first): every cookie-less request
 * makes a new session, so without a cap a client could grow the store without bound.
 */
export const DEFAULT_MAX_SESSIONS = 100_000;

export interface Session<S> {
  id: string;
  state: S;
}

export class SessionStore<S> {
  private readonly sessions = new Map<string, { session: Session<S>; lastUsed: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly initialState: (id: string) => S,
    private readonly ttlMs = 3_600_000,
    private readonly maxSessions = DEFAULT_MAX_SESSIONS,
  ) {
    this.timer = setInterval(() => this.sweep(), Math.min(ttlMs, 300_000));
    this.timer.unref();
  }

  get(id: string): Session<S> {
    let e = this.sessions.get(id);
    if (e) {
      this.sessions.delete(id); // re-inserted below: the Map's order is least recently used first
    } else {
      e = { session: { id, state: this.initialState(id) }, lastUsed: 0 };
      if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
    }
    this.sessions.set(id, e);
    e.lastUsed = Date.now();
    return e.session;
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const cutoff = Date.now() - this.ttlMs;
    for (const [id, e] of this.sessions) if (e.lastUsed < cutoff) this.sessions.delete(id);
  }
}
