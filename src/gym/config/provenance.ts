/**
 * Where each config value came from (a file, env.yaml, the command line), so that an error can
 * name the file as well as the key. Keys are dotted paths; a lookup walks up to the nearest parent.
 */
export class Provenance {
  private readonly sources = new Map<string, string>();

  set(path: readonly string[], source: string): void {
    this.sources.set(path.join("."), source);
  }

  /** Forget a subtree (it was replaced or deleted). */
  clear(path: readonly string[]): void {
    const prefix = path.join(".");
    for (const k of [...this.sources.keys()]) {
      if (k === prefix || k.startsWith(prefix + ".")) this.sources.delete(k);
    }
  }

  /** The source of the value at `path`, or of its nearest ancestor that has one. */
  sourceOf(path: readonly string[]): string | undefined {
    for (let n = path.length; n >= 0; n--) {
      const s = this.sources.get(path.slice(0, n).join("."));
      if (s !== undefined) return s;
    }
    return undefined;
  }
}
