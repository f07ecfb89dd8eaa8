/**
 * Writes arithmetic's data files from a seed: data/train.jsonl and data/validation.jsonl (Gym rows)
 * and data/demonstrations.jsonl (chat conversations from the train split, for the SFT warm start).
 * Run as a script (`npx tsx src/environments/arithmetic/write-data.ts`) to regenerate the shipped
 * files with the defaults below; call writeDataFiles for other sizes or difficulties.
 */
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { writeJsonl } from "../_shared/generate.ts";
import { demonstrations, generateRows, type ArithmeticDifficulty } from "./tasks.ts";

export interface WriteDataOptions {
  dir?: string;
  seed?: number;
  nTrain?: number;
  nValidation?: number;
  nDemonstrations?: number;
  difficulty?: Partial<ArithmeticDifficulty>;
}

export const DATA_DIR = fileURLToPath(new URL("./data/", import.meta.url));

export function writeDataFiles(opts: WriteDataOptions = {}): void {
  const { dir = DATA_DIR, seed = 0, nTrain = 1000, nValidation = 200, nDemonstrations = 500, difficulty } = opts;
  writeJsonl(resolve(dir, "train.jsonl"), generateRows({ split: "train", n: nTrain, seed, difficulty }));
  writeJsonl(resolve(dir, "validation.jsonl"), generateRows({ split: "validation", n: nValidation, seed, difficulty }));
  writeJsonl(resolve(dir, "demonstrations.jsonl"), demonstrations({ split: "train", n: nDemonstrations, seed, difficulty }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) writeDataFiles();
