/**
 * Regenerates calculator's shipped data files (seed 0, default sizes and difficulty):
 * `npx tsx src/environments/calculator/write-data.ts`. For other sizes or difficulties call
 * writeDataFiles from ../_shared/generate.ts with this folder's tasks.
 */
import { fileURLToPath } from "node:url";
import { writeDataFiles } from "../_shared/generate.ts";
import * as tasks from "./tasks.ts";

writeDataFiles(tasks, { dir: fileURLToPath(new URL("./data/", import.meta.url)) });
