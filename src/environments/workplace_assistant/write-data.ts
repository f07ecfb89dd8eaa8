/**
 * Regenerates workplace_assistant's data files (seed 0): train.jsonl (500), validation.jsonl
 * (120) and demonstrations.jsonl (200, train split; the demo generates its own), each row with its category's tools in
 * compact form (the demo's setting, tasks.ts): `npx tsx src/environments/workplace_assistant/write-data.ts`.
 */
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { writeJsonl } from "../_shared/generate.ts";
import { demonstrations, generateRows, type GenerateOptions } from "./tasks.ts";

const dir = fileURLToPath(new URL("./data/", import.meta.url));
const common: Pick<GenerateOptions, "seed" | "tools" | "toolStyle"> = { seed: 0, tools: "category", toolStyle: "compact" };
writeJsonl(resolve(dir, "train.jsonl"), generateRows({ ...common, split: "train", n: 500 }));
writeJsonl(resolve(dir, "validation.jsonl"), generateRows({ ...common, split: "validation", n: 120 }));
writeJsonl(resolve(dir, "demonstrations.jsonl"), demonstrations({ ...common, split: "train", n: 200 }));
