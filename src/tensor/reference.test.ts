/**
 * Tests of the reference kernels: forward results against direct formulas, and every backward
 * against central finite differences of a random linear functional of the forward output (float64).
 */
import { describe, expect, test } from "vitest";
import { referenceKernels as K } from "./reference.ts";
import { rng } from "./testing.ts";

function randn(n: number, r: () => number, scale = 1): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = r() * 2 * scale;
  return x;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Central differences of f with respect to every entry of x, compared against analytic g. */
function checkGrad(f: () => number, x: Float64Array, g: Float64Array, tol = 1e-6): void {
  const h = 1e-5;
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + h;
    const fp = f();
    x[i] = x0 - h;
    const fm = f();
    x[i] = x0;
    const num = (fp - fm) / (2 * h);
    worst = Math.max(worst, Math.abs(num - g[i]) / Math.max(1, Math.abs(num)));
  }
  expect(worst).toBeLessThan(tol);
}

describe("reference kernels", () => {
  const r = rng(7);

  test("matmul: all four transpose cases and beta", () => {
    const m = 3, n = 4, k = 5;
    const a = randn(m * k, r), b = randn(k * n, r);
    const want = new Float64Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) want[i * n + j] += a[i * k + p] * b[p * n + j];
    const at = new Float64Array(k * m), bt = new Float64Array(n * k);
    for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) at[p * m + i] = a[i * k + p];
    for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) bt[j * k + p] = b[p * n + j];
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      const c = new Float64Array(m * n).fill(1);
      K.matmul(c, ta ? at : a, tb ? bt : b, m, n, k, ta, tb, 0);
      for (let i = 0; i < m * n; i++) expect(c[i]).toBeCloseTo(want[i], 12);
      K.matmul(c, ta ? at : a, tb ? bt : b, m, n, k, ta, tb, 1);
      for (let i = 0; i < m * n; i++) expect(c[i]).toBeCloseTo(2 * want[i], 12);
    }
  });

  test("rmsnorm backward matches finite differences", () => {
    const n = 3, c = 6, eps = 1e-6;
    const inp = randn(n * c, r), w = randn(c, r), R = randn(n * c, r);
    const out = new Float64Array(n * c), rstd = new Float64Array(n);
    const f = () => (K.rmsnormForward(out, rstd, inp, w, n, c, eps), dot(out, R));
    f();
    for (let i = 0; i < n; i++) {
      let ss = 0;
      for (let j = 0; j < c; j++) ss += inp[i * c + j] ** 2;
      expect(out[i * c + 2]).toBeCloseTo((inp[i * c + 2] * w[2]) / Math.sqrt(ss / c + eps), 12);
    }
    const dinp = new Float64Array(n * c), dw = new Float64Array(c);
    K.rmsnormBackward(dinp, dw, R, inp, w, rstd, n, c);
    checkGrad(f, inp, dinp);
    checkGrad(f, w, dw);
  });

  test("rope: backward is the transpose; rotation preserves norms; in place works", () => {
    const n = 4, h = 2, d = 8, P = 10, half = d / 2;
    const cos = new Float64Array(P * half), sin = new Float64Array(P * half);
    for (let p = 0; p < P; p++)
      for (let j = 0; j < half; j++) {
        const a = p * Math.pow(10000, (-2 * j) / d);
        cos[p * half + j] = Math.cos(a);
        sin[p * half + j] = Math.sin(a);
      }
    const pos = Int32Array.from([0, 3, 1, 9]);
    const inp = randn(n * h * d, r), R = randn(n * h * d, r);
    const out = new Float64Array(n * h * d);
    const f = () => (K.ropeForward(out, inp, pos, cos, sin, n, h, d), dot(out, R));
    f();
    expect(dot(out, out)).toBeCloseTo(dot(inp, inp), 10);
    expect(Array.from(out.subarray(0, h * d))).toEqual(Array.from(inp.subarray(0, h * d))); // pos 0
    const dinp = new Float64Array(n * h * d);
    K.ropeBackward(dinp, R, pos, cos, sin, n, h, d);
    checkGrad(f, inp, dinp);
    f();
    const inplace = Float64Array.from(inp);
    K.ropeForward(inplace, inplace, pos, cos, sin, n, h, d);
    expect(Array.from(inplace)).toEqual(Array.from(out));
  });

  test("attention over a packed batch with GQA: backward matches finite differences", () => {
    const hq = 4, hkv = 2, d = 3;
    const cu = Int32Array.from([0, 3, 8]);
    const s = 2, n = 8;
    const q = randn(n * hq * d, r), k = randn(n * hkv * d, r), v = randn(n * hkv * d, r);
    const R = randn(n * hq * d, r);
    const out = new Float64Array(n * hq * d), att = new Float64Array(hq * (9 + 25));
    const f = () => (K.attentionForward(out, att, q, k, v, cu, s, hq, hkv, d), dot(out, R));
    f();
    // first row of each sequence attends only to itself: out = v
    expect(out[(3 * hq + 3) * d + 1]).toBeCloseTo(v[(3 * hkv + 1) * d + 1], 12);
    const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
    K.attentionBackward(dq, dk, dv, R, q, k, v, att, cu, s, hq, hkv, d);
    checkGrad(f, q, dq);
    checkGrad(f, k, dk);
    checkGrad(f, v, dv);
  });

  test("cached attention equals packed attention row by row", () => {
    const hq = 4, hkv = 2, d = 3, maxLen = 6;
    const lens = [5, 2];
    const cu = Int32Array.from([0, 5, 7]);
    const n = 7;
    const q = randn(n * hq * d, r), k = randn(n * hkv * d, r), v = randn(n * hkv * d, r);
    const out = new Float64Array(n * hq * d), att = new Float64Array(hq * (25 + 4));
    K.attentionForward(out, att, q, k, v, cu, 2, hq, hkv, d);
    // cache: slot 1 holds sequence 0, slot 0 holds sequence 1
    const kc = new Float64Array(2 * maxLen * hkv * d), vc = new Float64Array(kc.length);
    const slotOf = [1, 0];
    for (let sq = 0; sq < 2; sq++)
      for (let t = 0; t < lens[sq]; t++) {
        const src = (cu[sq] + t) * hkv * d, dst = (slotOf[sq] * maxLen + t) * hkv * d;
        kc.set(k.subarray(src, src + hkv * d), dst);
        vc.set(v.subarray(src, src + hkv * d), dst);
      }
    const slot = Int32Array.from([1, 1, 1, 1, 1, 0, 0]);
    const pos = Int32Array.from([0, 1, 2, 3, 4, 0, 1]);
    const out2 = new Float64Array(n * hq * d);
    K.attentionCached(out2, q, kc, vc, slot, pos, n, hq, hkv, d, maxLen);
    for (let i = 0; i < out.length; i++) expect(out2[i]).toBeCloseTo(out[i], 12);
  });

  test("swiglu backward matches finite differences", () => {
    const n = 10;
    const g = randn(n, r, 3), u = randn(n, r), R = randn(n, r);
    const out = new Float64Array(n);
    const f = () => (K.swigluForward(out, g, u, n), dot(out, R));
    f();
    expect(out[0]).toBeCloseTo((g[0] / (1 + Math.exp(-g[0]))) * u[0], 12);
    const dg = new Float64Array(n), du = new Float64Array(n);
    K.swigluBackward(dg, du, R, g, u, n);
    checkGrad(f, g, dg);
    checkGrad(f, u, du);
  });

  test("logprob and entropy: values, ignored rows, backward in place", () => {
    const n = 3, v = 5;
    const logits = randn(n * v, r, 2);
    const targets = Int32Array.from([2, -1, 4]);
    const wl = randn(n, r), we = randn(n, r);
    const logp = new Float64Array(n), ent = new Float64Array(n), lse = new Float64Array(n);
    const f = () => (K.logprobForward(logp, ent, lse, logits, targets, n, v), dot(logp, wl) + dot(ent, we));
    f();
    let z = 0;
    for (let j = 0; j < v; j++) z += Math.exp(logits[j]);
    expect(logp[0]).toBeCloseTo(logits[2] - Math.log(z), 12);
    let h = 0;
    for (let j = 0; j < v; j++) h -= (Math.exp(logits[j]) / z) * (logits[j] - Math.log(z));
    expect(ent[0]).toBeCloseTo(h, 12);
    expect(logp[1]).toBe(0);
    expect(ent[1]).toBe(0);
    const dl = new Float64Array(n * v);
    K.logprobBackward(dl, wl, we, logits, lse, targets, n, v);
    checkGrad(f, logits, dl);
    // in place, and without the entropy term
    const inplace = Float64Array.from(logits);
    K.logprobBackward(inplace, wl, null, inplace, lse, targets, n, v);
    const dl2 = new Float64Array(n * v);
    K.logprobBackward(dl2, wl, null, logits, lse, targets, n, v);
    expect(Array.from(inplace)).toEqual(Array.from(dl2));
  });

  test("embedding forward gathers, backward scatter-adds repeated ids", () => {
    const c = 3;
    const wte = randn(4 * c, r);
    const ids = Int32Array.from([2, 0, 2]);
    const out = new Float64Array(3 * c);
    K.embeddingForward(out, ids, wte, 3, c);
    expect(Array.from(out.subarray(0, c))).toEqual(Array.from(wte.subarray(2 * c, 3 * c)));
    const d = new Float64Array(4 * c);
    K.embeddingBackward(d, Float64Array.from([1, 1, 1, 2, 2, 2, 3, 3, 3]), ids, 3, c);
    expect(Array.from(d)).toEqual([2, 2, 2, 0, 0, 0, 4, 4, 4, 0, 0, 0]);
  });

  test("adamw: first step moves by lr·sign(g) plus decay", () => {
    const p = Float64Array.from([1, -2]), g = Float64Array.from([0.5, -3]);
    const m = new Float64Array(2), v = new Float64Array(2);
    K.adamw(p, g, m, v, 2, 0.1, 0.9, 0.999, 0, 0.01, 0.1, 0.001, 1);
    expect(p[0]).toBeCloseTo(1 - 0.1 * (1 + 0.01 * 1), 10);
    expect(p[1]).toBeCloseTo(-2 - 0.1 * (-1 + 0.01 * -2), 10);
    expect(K.sumSquares(g, 2)).toBeCloseTo(9.25, 12);
    const o = new Float64Array(2);
    K.add(o, p, g, 2);
    expect(o[0]).toBeCloseTo(p[0] + g[0], 12);
  });
});
