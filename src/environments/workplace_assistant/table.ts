/**
 * A pandas DataFrame reduced to what the workplace tools do with one: ordered rows with index
 * labels, filtering (labels kept), `concat` (labels renumbered with ignore_index, else the new
 * frame's own 0..), and `.loc` updates. Labels matter because verification compares tables
 * with `DataFrame.equals`, which compares the index too. A missing cell (NaN / None) is null.
 */
export type Cell = string | number | boolean | null;
export interface Row {
  label: number;
  cells: Record<string, Cell>;
}

export class Table {
  constructor(
    readonly columns: string[],
    public rows: Row[],
  ) {}

  static fromRecords(columns: string[], records: Record<string, Cell>[]): Table {
    return new Table(columns, records.map((cells, label) => ({ label, cells })));
  }

  clone(): Table {
    return new Table([...this.columns], this.rows.map((r) => ({ label: r.label, cells: { ...r.cells } })));
  }

  /** `df.to_dict(orient="records")`: cells in column order. */
  records(rows: Row[] = this.rows): Record<string, Cell>[] {
    return rows.map((r) => Object.fromEntries(this.columns.map((c) => [c, r.cells[c] ?? null])));
  }

  column(name: string): Cell[] {
    return this.rows.map((r) => r.cells[name] ?? null);
  }

  /** `df[mask]`: keeps the labels. */
  filter(pred: (r: Row) => boolean): void {
    this.rows = this.rows.filter(pred);
  }

  /** `pd.concat([df, new], ignore_index)`: ignore_index renumbers 0..n-1; else the new rows keep labels 0.. of their own frame. */
  append(records: Record<string, Cell>[], ignoreIndex: boolean): void {
    const added = records.map((cells, i) => ({ label: i, cells: { ...cells } }));
    this.rows = [...this.rows, ...added];
    if (ignoreIndex) this.rows.forEach((r, i) => (r.label = i));
  }

  /** `df.loc[len(df)] = values`: a row labelled with the current length. */
  appendAtLength(cells: Record<string, Cell>): void {
    this.rows.push({ label: this.rows.length, cells: { ...cells } });
  }

  /** `series.max()` of a string column (lexicographic), as the tools use it to mint ids. */
  maxString(col: string): string {
    let best: string | undefined;
    for (const v of this.column(col)) if (typeof v === "string" && (best === undefined || v > best)) best = v;
    if (best === undefined) throw new Error(`column ${col} has no values`);
    return best;
  }
}
