/**
 * The chunked LM head against an independent float64 computation (logits = x·Wᵀ/T, log-softmax,
 * entropy) and its gradient against central finite differences, for chunk sizes that force
 * recomputation in backward (several chunks) and that keep the forward's logits (one chunk).
 */
import { describe, expect, test } from "vitest";

import { referenceKernels } from "../tensor/reference.ts";
import { defaultChunkRows, LmHead } from "./lm-head.ts";
import { Rng } from "./rng.ts";

const N = 9;
const C = 5;
const V = 13;

function fixture(seed: number) {
  const rng = new Rng(seed);
  const x = Float64Array.from({ length: N * C }, () => rng.normal());
  const w = Float64Array.from({ length: V * C }, () => rng.normal());
  const targets = Int32Array.from({ length: N }, (_, i) => (i % 4 === 3 ? -1 : Math.floor(rng.uniform() * V)));
  return { x, w, targets };
}

/** log p(target) and entropy of softmax(x·Wᵀ / T) per row, written out plainly. */
function naive(x: Float64Array, w: Float64Array, targets: Int32Array, T: number): { logp: number[]; entropy: number[] } {
  const logp: number[] = [];
  const entropy: number[] = [];
  for (let i = 0; i < N; i++) {
    if (targets[i] < 0) {
      logp.push(0);
      entropy.push(0);
      continue;
    }
    const z: number[] = [];
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += x[i * C + c] * w[v * C + c];
      z.push(s / T);
    }
    const mx = Math.max(...z);
    const lse = mx + Math.log(z.reduce((a, zi) => a + Math.exp(zi - mx), 0));
    logp.push(z[targets[i]] - lse);
    entropy.push(-z.reduce((a, zi) => a + Math.exp(zi - lse) * (zi - lse), 0));
  }
  return { logp, entropy };
}

function run(head: LmHead, x: Float64Array, w: Float64Array, targets: Int32Array, T: number) {
  const logp = new Float64Array(N);
  const entropy = new Float64Array(N);
  head.forward(logp, entropy, x, targets, N, w, T);
  return { logp, entropy };
}

describe("LmHead (chunked head + log-softmax)", () => {
  test.each([1, 3, 4, 100])("forward equals the float64 computation with %i-row chunks (T = 0.7)", (rows) => {
    const { x, w, targets } = fixture(1);
    const head = new LmHead(referenceKernels, "float64", C, V, rows);
    const got = run(head, x, w, targets, 0.7);
    const want = naive(x, w, targets, 0.7);
    for (let i = 0; i < N; i++) {
      expect(got.logp[i]).toBeCloseTo(want.logp[i], 12);
      expect(got.entropy[i]).toBeCloseTo(want.entropy[i], 12);
    }
    // never more than one chunk of logits
    expect(head.logitFloats).toBeLessThanOrEqual(Math.min(rows, N) * V);
  });

  test.each([
    [2, true],
    [2, false],
    [100, true], // one chunk: backward uses the forward's logits in place
  ])("gradients w.r.t. x and W match finite differences (%i-row chunks, entropy term %s)", (rows, withEntropy) => {
    const { x, w, targets } = fixture(2);
    const T = 0.8;
    const rng = new Rng(3);
    // some rows with a target but zero weight: backward skips them, their gradient must stay 0
    const wl = Float64Array.from({ length: N }, (_, i) => (i % 3 === 1 ? 0 : rng.normal()));
    const we = Float64Array.from({ length: N }, (_, i) => (withEntropy && i % 3 !== 1 ? rng.normal() : 0));
    const head = new LmHead(referenceKernels, "float64", C, V, rows);
    const loss = () => {
      const { logp, entropy } = run(head, x, w, targets, T);
      let s = 0;
      for (let i = 0; i < N; i++) s += wl[i] * logp[i] + we[i] * entropy[i];
      return s;
    };
    loss();
    const dx = new Float64Array(N * C).fill(NaN); // overwritten, including rows without a gradient
    const dw = new Float64Array(V * C).fill(0.25); // accumulated into
    head.backward(dx, dw, wl, withEntropy ? we : null, x, targets, N, w, T);
    const h = 1e-6;
    const check = (buf: Float64Array, grad: Float64Array, offset: number) => {
      for (let i = 0; i < buf.length; i++) {
        const x0 = buf[i];
        buf[i] = x0 + h;
        const fp = loss();
        buf[i] = x0 - h;
        const fm = loss();
        buf[i] = x0;
        const num = (fp - fm) / (2 * h);
        expect(Math.abs(grad[i] - offset - num), `element ${i}`).toBeLessThan(1e-7 * Math.max(1, Math.abs(num)));
      }
    };
    check(x, dx, 0);
    check(w, dw, 0.25);
  });

  test("the default chunk keeps Qwen3's 151,936-row head near 128 MiB of float32 logits", () => {
    const rows = defaultChunkRows(151_936);
    expect(rows).toBe(220);
    expect(rows * 151_936 * 4).toBeLessThanOrEqual(128 * 2 ** 20);
    expect(defaultChunkRows(1 << 26)).toBe(1);
    expect(() => new LmHead(referenceKernels, "float32", C, V, 0)).toThrow(/chunk rows/);
  });
});
