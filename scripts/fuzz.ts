/**
 * `npm run fuzz`: every HTTP endpoint of the OpenAI server and of every Gym server (head, agent,
 * model proxy, each resources server) gets generated hostile bodies; one JSON line per server
 * (bodies_tried, crashes, non_4xx, slowest_ms, ...) and a final summary line. Exits 1 on any
 * crash, non-4xx answer or a server that stops serving.
 *   npm run fuzz [-- --bodies 1000 --seed 1]
 */
import { parseArgs } from "node:util";
import { fuzzTarget } from "../test/support/fuzz/run.ts";
import { startFuzzServers } from "../test/support/fuzz/targets.ts";

const { values } = parseArgs({ options: { bodies: { type: "string", default: "1000" }, seed: { type: "string", default: "1" } } });
const bodies = Number(values.bodies);
const seed = Number(values.seed);
if (!Number.isInteger(bodies) || bodies < 1) throw new Error(`--bodies must be a positive integer, got ${values.bodies}`);

const servers = await startFuzzServers();
let failed = false;
const totals = { servers: 0, bodies_tried: 0, accepted: 0, crashes: 0, non_4xx: 0, slowest_ms: 0 };
try {
  for (const t of servers.targets) {
    const r = await fuzzTarget(t, { bodies, bodyLimit: servers.bodyLimit, seed });
    console.log(JSON.stringify(r));
    totals.servers++;
    totals.bodies_tried += r.bodies_tried;
    totals.accepted += r.accepted;
    totals.crashes += r.crashes;
    totals.non_4xx += r.non_4xx;
    totals.slowest_ms = Math.max(totals.slowest_ms, r.slowest_ms);
    failed ||= r.crashes > 0 || r.non_4xx > 0 || !r.still_serves;
  }
} finally {
  await servers.close();
}
console.log(JSON.stringify({ summary: true, ...totals, ok: !failed }));
process.exit(failed ? 1 : 0);
