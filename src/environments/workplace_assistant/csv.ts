/**
 * RFC 4180 CSV, as `pd.read_csv(path, dtype=str)` reads the sandbox files: every cell a string,
 * an empty cell (or pandas' NA spellings) missing (null). Quoted cells may hold commas, quotes ("") and newlines.
 */
import type { Cell } from "./table.ts";

/** pandas' default na_values: these cells read as NaN even with dtype=str. */
const NA_VALUES = new Set(["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]);

export function parseCsv(text: string, header = true): { columns: string[]; records: Record<string, Cell>[] } {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  let i = 0;
  const endCell = () => {
    row.push(cell);
    cell = "";
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") endCell();
    else if (ch === "\n" || ch === "\r") {
      endCell();
      rows.push(row);
      row = [];
      if (ch === "\r" && text[i + 1] === "\n") i++;
    } else cell += ch;
    i++;
  }
  if (cell !== "" || row.length > 0) {
    endCell();
    rows.push(row);
  }
  const body = rows.filter((r) => !(r.length === 1 && r[0] === ""));
  const columns = header ? body.shift()! : body[0]!.map((_, k) => String(k));
  const records = body.map((r) => Object.fromEntries(columns.map((c, k) => [c, r[k] === undefined || NA_VALUES.has(r[k]!) ? null : r[k]!])));
  return { columns, records };
}
