/**
 * The `calculate` tool's evaluator: + - * / and parentheses over decimal numbers, with unary
 * signs; nothing else (no names, no eval), since its input is whatever the policy wrote.
 * Results are exact for integers below 2^53, which covers every generated task.
 */

export class ExprError extends Error {}

export function evaluate(expr: string): number {
  const s = expr.replace(/\s+/g, "");
  let i = 0;
  const peek = () => s[i];
  const fail = (what: string): never => {
    throw new ExprError(`${what} at position ${i} of '${expr}'`);
  };

  // sum := product (('+' | '-') product)*
  const sum = (): number => {
    let v = product();
    while (peek() === "+" || peek() === "-") v = s[i++] === "+" ? v + product() : v - product();
    return v;
  };
  // product := unary (('*' | '/') unary)*
  const product = (): number => {
    let v = unary();
    while (peek() === "*" || peek() === "/") {
      const op = s[i++];
      const r = unary();
      if (op === "/" && r === 0) fail("division by zero");
      v = op === "*" ? v * r : v / r;
    }
    return v;
  };
  const unary = (): number => {
    if (peek() === "-") return i++, -unary();
    if (peek() === "+") return i++, unary();
    return atom();
  };
  const atom = (): number => {
    if (peek() === "(") {
      i++;
      const v = sum();
      if (peek() !== ")") fail("expected ')'");
      i++;
      return v;
    }
    const m = /^\d+(\.\d+)?|^\.\d+/.exec(s.slice(i));
    if (!m) return fail(peek() === undefined ? "unexpected end" : `unexpected '${peek()}'`);
    i += m[0].length;
    return Number(m[0]);
  };

  if (s === "") fail("empty expression");
  const v = sum();
  if (i < s.length) fail(`unexpected '${peek()}'`);
  if (!Number.isFinite(v)) fail("result is not finite");
  return v;
}

/** The tool's answer as text: an integer as is, anything else to 12 significant digits. */
export function formatResult(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(12)));
}
