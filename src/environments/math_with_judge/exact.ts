/**
 * Exact numbers for the math answer checker: rationals over BigInt and the field Q(√r) of numbers
 * a + b·√r (a, b rational, r a squarefree integer > 1). This is what lets `\frac{1}{\sqrt{2}}` equal
 * `\frac{\sqrt{2}}{2}` and `(2+\sqrt{3})^{2016}`-sized answers be compared exactly without a CAS.
 * Anything outside one such field (two different radicals, irrational powers, π) is `Unsupported`.
 */

export class Unsupported extends Error {}

// ---------------------------------------------------------------------------------------------
// rationals

export interface Rat {
  n: bigint;
  d: bigint; // > 0, gcd(n, d) = 1
}

const abs = (x: bigint) => (x < 0n ? -x : x);
function gcd(a: bigint, b: bigint): bigint {
  a = abs(a);
  b = abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Numbers past this many bits are refused, so a hostile answer like 10^{10^6} cannot stall verify. */
const MAX_BITS = 1 << 16;

export function rat(n: bigint, d = 1n): Rat {
  if (d === 0n) throw new Unsupported("division by zero");
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  const r = { n: n / g, d: d / g };
  if (r.n.toString(16).length * 4 > MAX_BITS || r.d.toString(16).length * 4 > MAX_BITS) throw new Unsupported("number too large");
  return r;
}

const ZERO = rat(0n);
const radd = (x: Rat, y: Rat) => rat(x.n * y.d + y.n * x.d, x.d * y.d);
const rmul = (x: Rat, y: Rat) => rat(x.n * y.n, x.d * y.d);
const rneg = (x: Rat): Rat => ({ n: -x.n, d: x.d });
const req = (x: Rat, y: Rat) => x.n === y.n && x.d === y.d;
const isZero = (x: Rat) => x.n === 0n;

// ---------------------------------------------------------------------------------------------
// Q(√r)

/** a + b·√r; r = 1n exactly when b = 0. */
export interface QSqrt {
  a: Rat;
  b: Rat;
  r: bigint;
}

export const fromRat = (a: Rat): QSqrt => ({ a, b: ZERO, r: 1n });

function make(a: Rat, b: Rat, r: bigint): QSqrt {
  return isZero(b) ? fromRat(a) : { a, b, r };
}

function commonRadicand(x: QSqrt, y: QSqrt): bigint {
  if (x.r !== 1n && y.r !== 1n && x.r !== y.r) throw new Unsupported("two different square roots");
  return x.r !== 1n ? x.r : y.r;
}

export function add(x: QSqrt, y: QSqrt): QSqrt {
  return make(radd(x.a, y.a), radd(x.b, y.b), commonRadicand(x, y));
}

export const neg = (x: QSqrt): QSqrt => ({ a: rneg(x.a), b: rneg(x.b), r: x.r });

export function mul(x: QSqrt, y: QSqrt): QSqrt {
  const r = commonRadicand(x, y);
  // (a1 + b1√r)(a2 + b2√r) = a1a2 + b1b2·r + (a1b2 + a2b1)√r
  const a = radd(rmul(x.a, y.a), rmul(rmul(x.b, y.b), rat(r)));
  const b = radd(rmul(x.a, y.b), rmul(y.a, x.b));
  return make(a, b, r);
}

export function inv(x: QSqrt): QSqrt {
  // 1/(a + b√r) = (a − b√r)/(a² − r·b²); the norm is 0 only for x = 0, since r is not a square.
  const norm = radd(rmul(x.a, x.a), rneg(rmul(rat(x.r), rmul(x.b, x.b))));
  if (isZero(norm)) throw new Unsupported("division by zero");
  const k = rat(norm.d, norm.n);
  return make(rmul(x.a, k), rneg(rmul(x.b, k)), x.r);
}

export const div = (x: QSqrt, y: QSqrt) => mul(x, inv(y));

export function pow(x: QSqrt, e: QSqrt): QSqrt {
  if (!isRational(e)) throw new Unsupported("irrational exponent");
  if (e.a.d === 2n && e.a.n === 1n) return sqrt(x);
  if (e.a.d !== 1n) throw new Unsupported("fractional exponent");
  let n = e.a.n;
  if (abs(n) > 100_000n) throw new Unsupported("exponent too large");
  const negative = n < 0n;
  n = abs(n);
  let result = fromRat(rat(1n));
  let base = x;
  while (n > 0n) {
    if (n & 1n) result = mul(result, base);
    n >>= 1n;
    if (n > 0n) base = mul(base, base);
  }
  return negative ? inv(result) : result;
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  // Newton's method from a power of two above √n: decreases monotonically to ⌊√n⌋.
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2) + 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** n = s²·f with f squarefree (trial division to 10⁵; a larger cofactor is taken as squarefree unless it is a square). */
function squarePart(n: bigint): [s: bigint, f: bigint] {
  let s = 1n;
  let f = 1n;
  for (let p = 2n; p <= 100_000n && p * p <= n; p += p === 2n ? 1n : 2n) {
    while (n % (p * p) === 0n) {
      n /= p * p;
      s *= p;
    }
    if (n % p === 0n) {
      n /= p;
      f *= p;
    }
  }
  const q = isqrt(n);
  return q * q === n ? [s * q, f] : [s, f * n];
}

/** √x for a rational x ≥ 0: √(p/q) = √(pq)/q. */
export function sqrt(x: QSqrt): QSqrt {
  if (!isRational(x) || x.a.n < 0n) throw new Unsupported("square root of an irrational or negative number");
  const [s, f] = squarePart(x.a.n * x.a.d);
  const coef = rat(s, x.a.d);
  return f === 1n ? fromRat(coef) : make(ZERO, coef, f);
}

export const isRational = (x: QSqrt) => isZero(x.b);
export const equal = (x: QSqrt, y: QSqrt) => req(x.a, y.a) && req(x.b, y.b) && (isZero(x.b) || x.r === y.r);

// ---------------------------------------------------------------------------------------------
// printing, as SymPy's str() prints the simplest cases (math_verify reports answers that way)

function ratStr(x: Rat): string {
  return x.d === 1n ? `${x.n}` : `${x.n}/${x.d}`;
}

/** `83/499`, `sqrt(2)`, `2*sqrt(3)/3`; undefined when SymPy's form is not obvious (a sum with a radical). */
export function sympyStr(x: QSqrt): string | undefined {
  // A huge value was written as an expression, which SymPy keeps unevaluated: its form is not ours to guess.
  if ([x.a.n, x.a.d, x.b.n, x.b.d].some((v) => abs(v) > 10n ** 30n)) return undefined;
  if (isRational(x)) return ratStr(x.a);
  if (!isZero(x.a)) return undefined;
  const { n, d } = x.b;
  const sign = n < 0n ? "-" : "";
  const num = abs(n) === 1n ? `sqrt(${x.r})` : `${abs(n)}*sqrt(${x.r})`;
  return `${sign}${num}${d === 1n ? "" : `/${d}`}`;
}
