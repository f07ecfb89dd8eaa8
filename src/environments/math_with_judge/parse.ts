/**
 * A small parser from answer text (LaTeX or plain) to an exact value in Q(√r) (exact.ts).
 *
 * Covers: integers and decimals (exact), `\frac{a}{b}` / `\dfrac` / `\tfrac` (also `\frac12`),
 * `a/b`, `\sqrt{x}` and `sqrt(x)`, `^{n}` / `^n` (all digits) / `**n` with integer n (and ½ as a root),
 * `\cdot` / `\times` / `\div`, unary signs, parentheses and braces, implicit products (`2\sqrt{3}`).
 * LaTeX noise is dropped first: `$`, `\(..\)`, `\[..\]`, `\left`/`\right`, spacing commands,
 * `\displaystyle`, `^\circ`, `\%` at the very end is NOT dropped (a percentage is a different answer).
 * Anything else (variables, π, sets, intervals, units, thousands separators) throws Unsupported;
 * the checker then falls back to comparing normalized text.
 */
import { add, div, fromRat, mul, neg, pow, rat, sqrt, Unsupported, type QSqrt } from "./exact.ts";

const NOISE: [RegExp, string][] = [
  [/\\left|\\right|\\displaystyle|\\!|\\,|\\;|\\:|\\ |~/g, ""],
  [/\\\(|\\\)|\\\[|\\\]|\$/g, ""],
  [/\^\s*\{?\\circ\}?/g, ""],
  [/\\[dt]frac/g, "\\frac"],
  [/\\cdot|\\times/g, "*"],
  [/\\div/g, "/"],
  [/\s+/g, ""],
];

/** The text the parser and the textual fallback both see. */
export function normalizeAnswerText(text: string): string {
  let s = text;
  for (const [re, to] of NOISE) s = s.replace(re, to);
  return s.replace(/\.$/, "");
}

export function parseExact(text: string): QSqrt {
  const p = new Parser(normalizeAnswerText(text));
  const v = p.expr();
  if (!p.done()) throw new Unsupported(`unexpected '${p.rest()}'`);
  return v;
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  done = () => this.i >= this.s.length;
  rest = () => this.s.slice(this.i);
  private peek = (t: string) => this.s.startsWith(t, this.i);
  private eat(t: string): boolean {
    if (!this.peek(t)) return false;
    this.i += t.length;
    return true;
  }
  private expect(t: string): void {
    if (!this.eat(t)) throw new Unsupported(`expected '${t}' at '${this.rest()}'`);
  }

  // expr := term (('+' | '-') term)*
  expr(): QSqrt {
    let v = this.term();
    for (;;) {
      if (this.eat("+")) v = add(v, this.term());
      else if (this.eat("-")) v = add(v, neg(this.term()));
      else return v;
    }
  }

  // term := unary (('*' | '/') unary | unary)*   — the last form is an implicit product: 2\sqrt{3}
  private term(): QSqrt {
    let v = this.unary();
    for (;;) {
      if (this.eat("*")) v = mul(v, this.unary());
      else if (this.eat("/")) v = div(v, this.unary());
      else if (this.startsPrimary()) v = mul(v, this.power());
      else return v;
    }
  }

  // unary := ('-' | '+') unary | power   — so -2^2 = -(2^2)
  private unary(): QSqrt {
    if (this.eat("-")) return neg(this.unary());
    if (this.eat("+")) return this.unary();
    return this.power();
  }

  // power := primary ('^' exponent | '**' unary)?
  private power(): QSqrt {
    const base = this.primary();
    if (this.eat("**")) return pow(base, this.unary());
    // `2^10` is 2¹0 to TeX but 2¹⁰ to every writer of answers: the whole digit run is the exponent.
    if (this.eat("^")) return pow(base, this.peek("{") ? this.group() : this.unsignedNumber());
    return base;
  }

  private startsPrimary(): boolean {
    return /^[0-9.({]|^\\frac|^\\sqrt|^sqrt\(/.test(this.rest());
  }

  private primary(): QSqrt {
    if (this.eat("(")) {
      const v = this.expr();
      this.expect(")");
      return v;
    }
    if (this.peek("{")) return this.group();
    if (this.eat("\\frac")) {
      const num = this.argument();
      return div(num, this.argument());
    }
    if (this.eat("\\sqrt")) {
      if (this.peek("[")) throw new Unsupported("n-th roots");
      return sqrt(this.argument());
    }
    if (this.eat("sqrt(")) {
      const v = this.expr();
      this.expect(")");
      return sqrt(v);
    }
    return this.number();
  }

  private group(): QSqrt {
    this.expect("{");
    const v = this.expr();
    this.expect("}");
    return v;
  }

  /** A LaTeX argument: `{...}` or one character, as in `\frac12`. */
  private argument(): QSqrt {
    return this.peek("{") ? this.group() : this.oneChar();
  }

  private oneChar(): QSqrt {
    const ch = this.s[this.i];
    if (ch === undefined || !/[0-9]/.test(ch)) throw new Unsupported(`expected a digit at '${this.rest()}'`);
    this.i++;
    return fromRat(rat(BigInt(ch)));
  }

  private unsignedNumber(): QSqrt {
    if (!/^[0-9]/.test(this.rest())) throw new Unsupported(`expected an exponent at '${this.rest()}'`);
    return this.number();
  }

  private number(): QSqrt {
    const m = /^(\d*)(?:\.(\d+))?/.exec(this.rest());
    if (!m || m[0] === "" || m[0] === ".") throw new Unsupported(`unexpected '${this.rest()}'`);
    this.i += m[0].length;
    const frac = m[2] ?? "";
    return fromRat(rat(BigInt((m[1] || "0") + frac), 10n ** BigInt(frac.length)));
  }
}
