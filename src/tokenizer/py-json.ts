/**
 * JSON text as Python's `json.dumps(value, ensure_ascii=False)` writes it: ", " and ": " separators,
 * non-ASCII kept, floats in Python's repr. vLLM's tool parsers serialize `function.arguments` this
 * way, and Qwen-family models write their tool-call JSON in the same style.
 *
 * What a JavaScript value cannot carry is lost: an integral float ("1.0") prints as "1", integers
 * beyond 2^53 are rounded, and integer-like object keys come first (JavaScript's key order).
 */

export function pyJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      return pyNumber(value);
    case "string":
      return JSON.stringify(value); // same escapes as Python for well-formed strings
    case "object": {
      if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(", ")}]`;
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${pyJsonDumps(v)}`).join(", ")}}`;
    }
    default:
      throw new TypeError(`cannot serialize a ${typeof value} to JSON`);
  }
}

/** Python's float repr switches to exponent form below 1e-4 (JavaScript: below 1e-6), as "1e-05". */
function pyNumber(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(x)) return Math.abs(x) < 1e21 ? String(x) : BigInt(x).toString(); // ints print in full
  const [mantissa, expText] = x.toExponential().split("e");
  const exp = Number(expText);
  if (exp < -4) return `${mantissa}e-${String(-exp).padStart(2, "0")}`;
  return String(x);
}
