/**
 * A progress bar for collections, on stderr: on a terminal one line redrawn in place (at most 10
 * times a second); otherwise (CI logs, files) a plain line every `intervalMs`, so logs stay readable.
 * Shows done/total, rate, ETA, and failures so far. Knows nothing about rollouts beyond counts.
 */

export interface ProgressOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** default: the stream's isTTY. */
  tty?: boolean;
  /** non-TTY line cadence (default 10 s). */
  intervalMs?: number;
  label?: string;
  now?: () => number;
}

export class Progress {
  private done = 0;
  private failed = 0;
  private lastDraw = -Infinity;
  private readonly start: number;
  private readonly stream: NonNullable<ProgressOptions["stream"]>;
  private readonly tty: boolean;
  private readonly interval: number;
  private readonly now: () => number;

  constructor(
    private readonly total: number,
    private readonly opts: ProgressOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? Boolean(this.stream.isTTY);
    this.interval = this.tty ? 100 : (opts.intervalMs ?? 10_000);
    this.now = opts.now ?? (() => performance.now());
    this.start = this.now();
  }

  tick(failed: boolean): void {
    this.done++;
    if (failed) this.failed++;
    const t = this.now();
    if (t - this.lastDraw >= this.interval) this.draw(t);
  }

  /** The final state, always printed, ending the line. */
  finish(): void {
    this.draw(this.now());
    if (this.tty) this.stream.write("\n");
  }

  line(t = this.now()): string {
    const elapsed = (t - this.start) / 1000;
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const left = this.total - this.done;
    const eta = rate > 0 ? formatDuration(left / rate) : "?";
    const pct = this.total > 0 ? (100 * this.done) / this.total : 100;
    const width = 24;
    const filled = Math.round((width * pct) / 100);
    const bar = this.tty ? ` [${"#".repeat(filled)}${".".repeat(width - filled)}]` : "";
    return `${this.opts.label ?? "rollouts"} ${this.done}/${this.total}${bar} ${pct.toFixed(1)}%  ${rate.toFixed(1)}/s  ETA ${eta}  elapsed ${formatDuration(elapsed)}  failed ${this.failed}`;
  }

  private draw(t: number): void {
    this.lastDraw = t;
    this.stream.write(this.tty ? `\r\x1b[K${this.line(t)}` : `${this.line(t)}\n`);
  }
}

/** "12.3s" under a minute, "4m05s", "1h02m"; rounded to whole seconds first, so 239.6 s is "4m00s", not "3m60s". */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (Math.round(s * 10) < 600) return `${s.toFixed(1)}s`;
  const whole = Math.round(s);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(whole % 60).padStart(2, "0")}s`;
}

/** A rate for progress lines: "4.8k" from 4,812, "312" from 312.4, "-" when there is none. */
export function formatRate(x: unknown): string {
  if (typeof x !== "number" || !Number.isFinite(x)) return "-";
  return x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
}
