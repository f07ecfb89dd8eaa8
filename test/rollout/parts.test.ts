/** Small parts: connection slots, the progress line (TTY and not), stats, CLI argument parsing. */
import { expect, test } from "vitest";
import { parseRolloutArgs } from "../../src/cli/rollout.ts";
import { Progress, summarize } from "../../src/rollout/index.ts";
import { formatDuration, formatRate } from "../../src/rollout/progress.ts";
import { Slots } from "../../src/rollout/slots.ts";

test("slots: at most N per agent, FIFO hand-over, an aborted waiter leaves the queue", async () => {
  const s = new Slots(1);
  const never = new AbortController().signal;
  await s.acquire("a", never);
  await s.acquire("b", never); // another agent has its own slots
  const order: number[] = [];
  const stop = new AbortController();
  const w1 = s.acquire("a", never).then(() => order.push(1));
  const w2 = s.acquire("a", stop.signal).then(() => order.push(2), () => order.push(-2));
  const w3 = s.acquire("a", never).then(() => order.push(3));
  stop.abort();
  await w2;
  s.release("a");
  await w1;
  s.release("a");
  await w3;
  expect(order).toEqual([-2, 1, 3]);
});

test("progress: periodic plain lines off a TTY, a redrawn bar on one; rate and ETA", () => {
  let t = 0;
  const out: string[] = [];
  const stream = { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream;
  const p = new Progress(100, { stream, tty: false, intervalMs: 1000, now: () => t });
  for (let i = 0; i < 50; i++) {
    t += 100;
    p.tick(i % 10 === 0);
  }
  p.finish();
  expect(out.every((l) => l.endsWith("\n") && !l.includes("\r"))).toBe(true);
  expect(out.length).toBeLessThanOrEqual(7);
  expect(out.at(-1)).toMatch(/rollouts 50\/100 50\.0%\s+10\.0\/s\s+ETA 5\.0s .*failed 5/);
  const tty: string[] = [];
  const bar = new Progress(10, { stream: { write: (s: string) => tty.push(s) } as unknown as NodeJS.WritableStream, tty: true, now: () => t });
  bar.tick(false);
  expect(tty[0].startsWith("\r\x1b[Krollouts 1/10 [##")).toBe(true);
});

test("stats: nearest-rank percentiles, zeros for no data", () => {
  const s = summarize(Array.from({ length: 100 }, (_, i) => i + 1));
  expect(s).toMatchObject({ n: 100, mean: 50.5, min: 1, max: 100, p50: 50, p99: 99 });
  expect(summarize([])).toMatchObject({ n: 0, mean: 0, p99: 0 });
});

test("CLI flags: repeated --config, overrides, policy shortcuts", () => {
  const a = parseRolloutArgs(["--config", "a.yaml", "--config=b.yaml", "--input", "in.jsonl", "--resume", "--policy-base-url", "http://h/v1", "+x=1"]);
  expect(a.configPaths).toEqual(["a.yaml", "b.yaml"]);
  expect(a.flags).toMatchObject({ input: "in.jsonl", resume: "true" });
  expect(a.overrides).toEqual(["+x=1", "+policy_base_url=http://h/v1", "+policy_model_name=policy", "+policy_api_key=dummy_key"]);
  expect(() => parseRolloutArgs(["--bogus", "1"])).toThrow(/not an option/);
});

test("progress durations: tenths under a minute, a rounded 60 seconds carried into the minute, hours", () => {
  expect(formatDuration(12.34)).toBe("12.3s");
  expect(formatDuration(59.96)).toBe("1m00s");
  expect(formatDuration(65.4)).toBe("1m05s");
  expect(formatDuration(239.6)).toBe("4m00s");
  expect(formatDuration(3599.6)).toBe("1h00m");
  expect(formatDuration(3725)).toBe("1h02m");
  expect(formatDuration(Number.POSITIVE_INFINITY)).toBe("?");
  expect(formatRate(4812)).toBe("4.8k");
  expect(formatRate(312.4)).toBe("312");
  expect(formatRate(Number.NaN)).toBe("-");
});
