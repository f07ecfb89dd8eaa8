/**
 * Incremental detokenization (vLLM's `detokenize_incrementally`): the text of a growing list of
 * generated ids, decoding only a short window per token instead of the whole generation (which
 * made a streamed or stop-string-watched generation O(n²) in its length).
 *
 * The window starts a few tokens back (`prefixOffset`) so that decoders that look at neighbouring
 * tokens see context; text is committed only once it no longer ends in U+FFFD, i.e. once a UTF-8
 * character split across tokens is complete, so `text` only ever grows. A window that still ends in
 * U+FFFD after MAX_PENDING tokens (longer than any UTF-8 sequence) holds invalid bytes, not an
 * incomplete character, and is committed as it is. A generation may also end in a literal U+FFFD
 * (the model produced the replacement character itself): `finish` commits what is still held.
 */

const MAX_PENDING = 6;

export class IncrementalText {
  /** The committed text: a prefix of the decoded generation, grown by push. */
  text = "";
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(private readonly decode: (ids: readonly number[]) => string) {}

  /** Adds one generated id; returns the text it committed ("" while a character is incomplete). */
  push(id: number): string {
    const ids = this.ids;
    ids.push(id);
    const prefix = this.readOffset > this.prefixOffset ? this.decode(ids.slice(this.prefixOffset, this.readOffset)) : "";
    const full = this.decode(ids.slice(this.prefixOffset));
    const pending = ids.length - this.readOffset;
    if (full.length > prefix.length && (!full.endsWith("\uFFFD") || pending >= MAX_PENDING)) {
      const added = full.slice(prefix.length);
      this.text += added;
      this.prefixOffset = this.readOffset;
      this.readOffset = ids.length;
      return added;
    }
    if (full.length <= prefix.length && pending >= MAX_PENDING) {
      // ids that decode to nothing (skipped special tokens): move the window past them
      this.prefixOffset = this.readOffset;
      this.readOffset = ids.length;
    }
    return "";
  }

  /** Commits whatever text is still held back (the generation ended); returns it. */
  finish(): string {
    const ids = this.ids;
    const prefix = this.readOffset > this.prefixOffset ? this.decode(ids.slice(this.prefixOffset, this.readOffset)) : "";
    const full = this.decode(ids.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset;
    this.readOffset = ids.length;
    if (full.length <= prefix.length) return "";
    const added = full.slice(prefix.length);
    this.text += added;
    return added;
  }
}
