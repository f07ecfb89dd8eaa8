/**
 * Resuming an interrupted collection: the (task, rollout) pairs already in the results file are
 * done; only the others are sent again. A run killed mid-write can leave a partial last line:
 * it is cut off (the file is truncated to its last whole line) so appending stays valid JSONL.
 * Earlier failures are not "done": they are retried. The same input and num_repeats must be
 * given as the first time (the task indices come from them).
 */
import { createReadStream, existsSync, statSync, truncateSync } from "node:fs";
import { createInterface } from "node:readline";
import { rolloutKey, type RolloutRequest } from "./rows.ts";

export interface DoneSet {
  keys: Set<string>;
  /** lines in the file that are not a result with both indices (kept, but not counted done). */
  unreadable: number;
  /** a partial last line was cut off. */
  truncatedTail: boolean;
}

export async function readDone(resultsPath: string): Promise<DoneSet> {
  const keys = new Set<string>();
  if (!existsSync(resultsPath)) return { keys, unreadable: 0, truncatedTail: false };
  let unreadable = 0;
  let goodBytes = 0; // byte length of the file up to the end of the last whole line
  let pending: { bytes: number; ok: boolean; key?: string; fresh: boolean } | undefined;
  const lines = createInterface({ input: createReadStream(resultsPath), crlfDelay: Infinity });
  for await (const line of lines) {
    if (pending) goodBytes += pending.bytes; // the previous line was followed by a newline: it is whole
    const bytes = Buffer.byteLength(line) + 1;
    let key: string | undefined;
    try {
      const r = JSON.parse(line) as { _ng_task_index?: unknown; _ng_rollout_index?: unknown };
      if (typeof r._ng_task_index === "number" && typeof r._ng_rollout_index === "number") key = rolloutKey(r._ng_task_index, r._ng_rollout_index);
    } catch {
      key = undefined;
    }
    const fresh = key !== undefined && !keys.has(key);
    if (key !== undefined) keys.add(key);
    else if (line.trim() !== "") unreadable++;
    pending = { bytes, ok: key !== undefined, key, fresh };
  }
  // The last line: whole only if the file ends with a newline.
  let truncatedTail = false;
  if (pending) {
    if (goodBytes + pending.bytes !== statSync(resultsPath).size) {
      truncateSync(resultsPath, goodBytes);
      truncatedTail = true;
      if (!pending.ok) unreadable--; // a cut-off line is not counted unreadable
      else if (pending.fresh) keys.delete(pending.key!); // it parsed but had no newline: redo it rather than trust it
    }
  }
  return { keys, unreadable, truncatedTail };
}

export function missingRequests(requests: readonly RolloutRequest[], done: Set<string>): RolloutRequest[] {
  return requests.filter((r) => !done.has(rolloutKey(r.taskIndex, r.rolloutIndex)));
}
