/**
 * Waiting for a server to come up: poll `GET /` until it answers (any HTTP status counts, as in
 * NeMo Gym), while watching the child — an exit during start-up fails at once with its output.
 */
import { fetch } from "undici";
import { GymServerError } from "../errors.ts";
import type { GymChild } from "./child.ts";

export async function waitUntilServing(child: GymChild, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  let wait = 50;
  while (true) {
    if (exited || !child.alive) throw new GymServerError(child.name, `${child.describeExit()} during start-up`, child.outputTail());
    try {
      const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      child.status = "running";
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new GymServerError(child.name, `did not answer GET ${url}/ within ${Math.round(timeoutMs / 1000)} s`, child.outputTail());
    }
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 500);
  }
}
