/** Reading JSON Lines files (dataset rows, chat corpora): one JSON value per non-blank line. */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

export interface JsonlLine {
  /** 1-based line number in the file, for error messages. */
  line: number;
  value: unknown;
}

/** Every non-blank line parsed; errors name the file and the line. */
export function readJsonl(path: string): JsonlLine[] {
  const p = resolve(path);
  if (!existsSync(p)) throw new Error(`data file ${p} does not exist`);
  const out: JsonlLine[] = [];
  readFileSync(p, "utf8")
    .split("\n")
    .forEach((text, i) => {
      if (text.trim() === "") return;
      try {
        out.push({ line: i + 1, value: JSON.parse(text) });
      } catch (e) {
        throw new Error(`${p}:${i + 1}: not JSON (${(e as Error).message})`);
      }
    });
  return out;
}
