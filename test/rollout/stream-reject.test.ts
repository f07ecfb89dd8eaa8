/**
 * The dispatcher when a rollout's promise rejects (runRollout turns failures into outcomes, so a
 * rejection is a bug): the collection ends with that error instead of waiting forever for the
 * missing outcome. runRollout is wrapped to reject for one request; the rest run for real.
 */
import { afterEach, expect, test, vi } from "vitest";
import { expandRows } from "../../src/rollout/rows.ts";
import { streamRollouts } from "../../src/rollout/stream.ts";
import { clientFor, resultWith, startFakeAgent, type FakeAgent } from "./helpers/fake-agents.ts";

vi.mock("../../src/rollout/run-rollout.ts", async (importActual) => {
  const actual = await importActual<typeof import("../../src/rollout/run-rollout.ts")>();
  return {
    ...actual,
    runRollout: (...args: Parameters<typeof actual.runRollout>) =>
      args[1].taskIndex === 1 ? Promise.reject(new TypeError("boom in the collector")) : actual.runRollout(...args),
  };
});

let agent: FakeAgent | undefined;
afterEach(async () => agent?.close());

test("a rejected rollout ends the stream with its error (no hang)", { timeout: 10_000 }, async () => {
  agent = await startFakeAgent("a", (row) => resultWith(row, [{ prompt: [1, 2], gen: [3] }]));
  const rows = Array.from({ length: 4 }, (_, i) => ({ responses_create_params: { input: `q${i}` } }));
  const requests = expandRows(rows, { numRepeats: 2, defaultAgent: "a" });
  const seen: number[] = [];
  const run = async () => {
    for await (const o of streamRollouts(clientFor([agent!]), requests, { concurrency: 2 })) seen.push(o.taskIndex);
  };
  // a hang would trip the race's timer, not the test's, so the failure says which
  const hang = new Promise((_, reject) => setTimeout(() => reject(new Error("the stream hung")), 5000));
  await expect(Promise.race([run(), hang])).rejects.toThrow(/task 1, rollout 0, agent 'a'.*boom in the collector/);
  expect(seen).not.toContain(1);
});
