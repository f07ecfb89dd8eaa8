/**
 * The map between model rows and tokenizer ids. Without a compact vocabulary it is the identity.
 * With one (config.gymrl_vocab_map), row r < V-1 is tokenizer id map[r] and row V-1 is the unknown
 * row: any other tokenizer id reads as it on input, and it is never a head output.
 * Tokenizer (Qwen3) ids are what every caller of the model sees; rows stay inside src/model.
 */
import type { ModelConfig } from "./config.ts";

export class Vocab {
  /** rows the head scores (logits width) */
  readonly size: number;
  /** the unknown row, or -1 when the vocabulary is not compact */
  readonly unkRow: number;
  /** row → tokenizer id, for rows 0..size-1 */
  readonly rowToId: Int32Array;
  private readonly idToRowTable: Int32Array | null;

  constructor(cfg: ModelConfig) {
    const map = cfg.gymrl_vocab_map;
    if (map) {
      this.size = map.length;
      this.unkRow = map.length;
      this.rowToId = Int32Array.from(map);
      let maxId = 0;
      for (const id of map) if (id > maxId) maxId = id;
      this.idToRowTable = new Int32Array(maxId + 1).fill(this.unkRow);
      map.forEach((id, row) => (this.idToRowTable![id] = row));
    } else {
      this.size = cfg.vocab_size;
      this.unkRow = -1;
      this.rowToId = new Int32Array(this.size);
      for (let i = 0; i < this.size; i++) this.rowToId[i] = i;
      this.idToRowTable = null;
    }
  }

  get compact(): boolean {
    return this.unkRow >= 0;
  }

  /** Input row of a tokenizer id: the unknown row for ids outside a compact vocabulary. */
  inputRow(id: number): number {
    if (this.idToRowTable === null) {
      if (id < 0 || id >= this.size) throw new Error(`token id ${id} is outside the model's vocabulary (0..${this.size - 1})`);
      return id;
    }
    return id >= 0 && id < this.idToRowTable.length ? this.idToRowTable[id] : this.unkRow;
  }

  /** Output row of a tokenizer id, or -1 when the head cannot produce it. */
  outputRow(id: number): number {
    if (id < 0) return -1;
    if (this.idToRowTable === null) return id < this.size ? id : -1;
    const row = id < this.idToRowTable.length ? this.idToRowTable[id] : this.unkRow;
    return row === this.unkRow ? -1 : row;
  }

  /** Whether the head can produce this tokenizer id. */
  has(id: number): boolean {
    return this.outputRow(id) >= 0;
  }
}

/**
 * Builds a compact vocabulary map from the tokenizer ids that occur (e.g. a corpus plus the chat
 * specials): sorted ascending, deduplicated. The model's vocab_size is then map.length + 1.
 */
export function buildVocabMap(ids: Iterable<number>): number[] {
  return [...new Set(ids)].filter((id) => id >= 0).sort((a, b) => a - b);
}
