/**
 * `npm run probe:copy`: does an SFT model read the request? One JSON line per kind of
 * conversation (its last tool call, with or without a tool list; "reply" without calls): the mean
 * log-probability per assistant token with each conversation's own request and with another's
 * (src/sft/copy-probe.ts), then a summary line. Equal figures mean nothing is copied from the request.
 *   npm run probe:copy -- --model runs/demo-workplace/sft --data runs/demo-workplace/demonstrations.jsonl [--per-kind 40]
 */
import { parseArgs } from "node:util";
import { loadCheckpoint } from "../src/model/checkpoint.ts";
import { copyProbe } from "../src/sft/copy-probe.ts";
import { checkpointDir, readChats } from "../src/sft/index.ts";
import { getKernels } from "../src/tensor/index.ts";
import { loadChatFormat } from "../src/tokenizer/index.ts";

const { values } = parseArgs({ options: { model: { type: "string" }, data: { type: "string" }, "per-kind": { type: "string", default: "40" } } });
if (!values.model || !values.data) throw new Error("--model (a checkpoint or an SFT run directory) and --data (chats JSONL) are required");
const perKind = Number(values["per-kind"]);
if (!Number.isInteger(perKind) || perKind < 2) throw new Error(`--per-kind must be an integer ≥ 2, got ${values["per-kind"]}`);
const dir = checkpointDir(values.model, "--model");
const { model } = loadCheckpoint(dir, { kernels: getKernels() });
const lines = copyProbe(model, loadChatFormat(dir), readChats(values.data), perKind);
const r3 = (x: number) => Number(x.toFixed(3));
for (const l of lines) console.log(JSON.stringify({ ...l, own_logp: r3(l.own_logp), swapped_logp: r3(l.swapped_logp), gap: r3(l.gap) }));
const gaps = lines.map((l) => l.gap);
console.log(JSON.stringify({ kinds: lines.length, mean_gap: r3(gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length)), min_gap: r3(Math.min(...gaps)), max_gap: r3(Math.max(...gaps)) }));
