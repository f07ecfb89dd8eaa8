/**
 * Tests of the native kernels (the OpenBLAS addon): sgemm against a float64 triple loop, every
 * fused kernel against the reference kernels on the same float32 inputs, argument checking, the
 * float64 fallback, and the selection in index.ts. The native suites skip where the addon is not
 * built, except under CI ($CI or $GYMRL_REQUIRE_NATIVE set), where OpenBLAS is installed and a
 * missing addon is a failure.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { describe, expect, test, vi } from "vitest";

import { getKernels, getNativeKernels, nativeUnavailableReason } from "./index.ts";
import type { Kernels } from "./kernels.ts";
import { referenceKernels as ref } from "./reference.ts";
import { rng } from "./testing.ts";

const native = getNativeKernels();

/** Uniform in [-scale, scale). */
function randf(n: number, r: () => number, scale = 1): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = r() * 2 * scale;
  return x;
}

function randi(n: number, r: () => number, lo: number, hi: number): Int32Array {
  const x = new Int32Array(n);
  for (let i = 0; i < n; i++) x[i] = lo + Math.floor((r() + 0.5) * (hi - lo));
  return x;
}

/**
 * Every element within atol + rtol·|want|; on failure the message names the worst element.
 * Returns the worst ratio error / allowed (≤ 1 passes), so a test can show the check can fail.
 */
function closeness(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const ratio = Number.isNaN(err) ? Infinity : err / (atol + rtol * Math.abs(want[i]));
    if (ratio > worst) worst = ratio;
  }
  return worst;
}

function expectClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  let at = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const ratio = closeness([got[i]], [want[i]], rtol, atol);
    if (ratio > worst) [worst, at] = [ratio, i];
  }
  expect(got.length, `${name}: length`).toBe(want.length);
  expect(worst, `${name}[${at}]: native ${got[at]}, reference ${want[at]} (rtol ${rtol}, atol ${atol})`).toBeLessThanOrEqual(1);
}

type Bufs = Record<string, Float32Array | Int32Array>;

function clone<T extends Bufs>(b: T): T {
  const out: Bufs = {};
  for (const [k, v] of Object.entries(b)) out[k] = v.slice();
  return out as T;
}

/**
 * Runs `run` on the native and the reference kernels, each on its own copy of `bufs` (outputs and
 * accumulated gradients start from the same values), and compares the named outputs.
 */
function crossCheck<T extends Bufs>(
  bufs: T,
  run: (k: Kernels, b: T) => void,
  outputs: (keyof T & string)[],
  rtol = 1e-5,
  atol = 1e-6,
): void {
  const bn = clone(bufs);
  const br = clone(bufs);
  run(native!, bn);
  run(ref, br);
  for (const o of outputs) expectClose(o, bn[o], br[o], rtol, atol);
}

/** C = op(A)·op(B) + beta·C0 in float64, straight from the definition. */
function naiveMatmul(
  c0: Float32Array, a: Float32Array, b: Float32Array,
  m: number, n: number, k: number, ta: boolean, tb: boolean, beta: 0 | 1,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = beta * c0[i * n + j];
      for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  }
  return c;
}

// ------------------------------------------------------------------------------------------------

test("the addon is available under CI ($CI or $GYMRL_REQUIRE_NATIVE; CI installs OpenBLAS first)", () => {
  if (!process.env.CI && !process.env.GYMRL_REQUIRE_NATIVE) return;
  expect(nativeUnavailableReason()).toBeNull();
  expect(native).not.toBeNull();
});

describe.skipIf(!native)("native sgemm", () => {
  const r = rng(11);
  // includes M ≤ 4 and N = 1, which run on sgemv
  const shapes = [[1, 1, 1], [7, 13, 5], [64, 3, 129], [33, 65, 17], [1, 37, 19], [3, 37, 19], [29, 1, 23], [1, 1, 40]] as const;

  for (const [m, n, k] of shapes) {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      test(`M=${m} N=${n} K=${k} transA=${ta} transB=${tb}, beta 0 and 1`, () => {
        const a = randf(m * k, r), b = randf(k * n, r);
        for (const beta of [0, 1] as const) {
          const c0 = randf(m * n, r);
          const c = c0.slice();
          native!.matmul(c, a, b, m, n, k, ta, tb, beta);
          // float32 products summed over K: allow a few ulp of the K-term sum
          expectClose(`C (beta ${beta})`, c, naiveMatmul(c0, a, b, m, n, k, ta, tb, beta), 1e-5, 1e-6 * k);
        }
      });
    }
  }

  test("beta 0 overwrites C even where it holds NaN; only the M·N prefix of a longer C is written", () => {
    const a = randf(6, r), b = randf(6, r);
    const c = new Float32Array(4 + 3).fill(NaN);
    c[4] = 123;
    native!.matmul(c, a, b, 2, 2, 3, false, false, 0);
    expectClose("C", c.subarray(0, 4), naiveMatmul(new Float32Array(4), a, b, 2, 2, 3, false, false, 0), 1e-6, 1e-7);
    expect(c[4]).toBe(123);
    expect(Number.isNaN(c[5])).toBe(true);
  });

  test("beta 0 overwrites NaN on the sgemv path too (M = 1, N = 1)", () => {
    for (const [m, n] of [[1, 5], [3, 5], [5, 1]]) {
      const a = randf(m * 3, r), b = randf(3 * n, r);
      const c = new Float32Array(m * n).fill(NaN);
      native!.matmul(c, a, b, m, n, 3, false, false, 0);
      expectClose("C", c, naiveMatmul(new Float32Array(m * n), a, b, m, n, 3, false, false, 0), 1e-6, 1e-7);
    }
  });

  test("K = 0 gives beta·C", () => {
    const c = new Float32Array([1, 2, 3, 4]);
    native!.matmul(c, new Float32Array(0), new Float32Array(0), 2, 2, 0, false, false, 1);
    expect([...c]).toEqual([1, 2, 3, 4]);
    native!.matmul(c, new Float32Array(0), new Float32Array(0), 2, 2, 0, false, false, 0);
    expect([...c]).toEqual([0, 0, 0, 0]);
  });

  test("a buffer too short for its shape throws a RangeError naming it", () => {
    const c = new Float32Array(6), a = new Float32Array(6), b = new Float32Array(8);
    expect(() => native!.matmul(c, a, b, 2, 3, 3, false, false, 0)).toThrow(/sgemm: b has 8 elements, needs at least 9 = K\*N/);
    expect(() => native!.matmul(c, a, b, 3, 3, 2, false, false, 0)).toThrow(RangeError);
    expect(() => native!.matmul(c, a, b, 2, 3, 3, true, true, 0)).toThrow(/N\*K \(transB\)/);
    expect(() => native!.addon.sgemm(c, a, b, -1, 3, 3, false, false, 0)).toThrow(/argument 3 \(m\) must be a non-negative integer/);
  });

  test("a wrong argument type throws a TypeError naming it", () => {
    const x = new Float32Array(4);
    const f64 = new Float64Array(4) as unknown as Float32Array;
    expect(() => native!.addon.sgemm(x, f64, x, 2, 2, 2, false, false, 0)).toThrow(/argument 1 \(a\) must be a Float32Array/);
    expect(() => native!.addon.sgemm(x, x, x, 2, 2, 2, 0 as unknown as boolean, false, 0)).toThrow(TypeError);
  });

  test("Float64Array calls run on the reference kernels", () => {
    const m = 3, n = 4, k = 5;
    const a = Float64Array.from(randf(m * k, r)), b = Float64Array.from(randf(k * n, r));
    const c1 = new Float64Array(m * n), c2 = new Float64Array(m * n);
    native!.matmul(c1, a, b, m, n, k, false, true, 0);
    ref.matmul(c2, a, b, m, n, k, false, true, 0);
    expect([...c1]).toEqual([...c2]);
  });

  test("threads can be set and read back", () => {
    const before = native!.getThreads();
    native!.setThreads(1);
    expect(native!.getThreads()).toBe(1);
    native!.setThreads(before);
    expect(native!.getThreads()).toBe(before);
    expect(native!.openblasConfig()).toMatch(/OpenBLAS/);
    expect(() => native!.setThreads(0)).toThrow(RangeError);
  });
});

// ------------------------------------------------------------------------------------------------

describe.skipIf(!native)("native fused kernels match the reference", () => {
  const r = rng(23);

  test("the closeness check can fail", () => {
    const want = randf(10, r);
    const got = want.slice();
    got[3] += 1e-3;
    expect(closeness(got, want, 1e-5, 1e-6)).toBeGreaterThan(1);
    got[3] = NaN;
    expect(closeness(got, want, 1e-5, 1e-6)).toBe(Infinity);
  });

  test("add, also in place", () => {
    const n = 1003;
    crossCheck({ out: randf(n, r), a: randf(n, r), b: randf(n, r) }, (k, b) => k.add(b.out, b.a, b.b, n), ["out"], 1e-7, 0);
    crossCheck({ a: randf(n, r), b: randf(n, r) }, (k, b) => k.add(b.a, b.a, b.b, n), ["a"], 1e-7, 0);
  });

  test("sumSquares (float64 accumulation), prefix only", () => {
    const x = randf(10_001, r, 3);
    expect(native!.sumSquares(x, 10_000)).toBeCloseTo(ref.sumSquares(x, 10_000), 8);
  });

  test("embedding forward (exact) and backward with repeated ids", () => {
    const vocab = 11, c = 7, n = 9;
    const ids = randi(n, r, 0, vocab);
    ids[1] = ids[4] = ids[7];
    crossCheck({ out: randf(n * c, r), ids, wte: randf(vocab * c, r) }, (k, b) => k.embeddingForward(b.out, b.ids, b.wte, n, c), ["out"], 0, 0);
    crossCheck({ dwte: randf(vocab * c, r), dout: randf(n * c, r), ids }, (k, b) => k.embeddingBackward(b.dwte, b.dout, b.ids, n, c), ["dwte"], 1e-6, 1e-7);
  });

  test("rmsnorm forward and backward", () => {
    const n = 5, c = 67;
    const bufs = {
      out: new Float32Array(n * c), rstd: new Float32Array(n), inp: randf(n * c, r, 2), w: randf(c, r),
      dinp: randf(n * c, r), dw: randf(c, r), dout: randf(n * c, r),
    };
    crossCheck(bufs, (k, b) => k.rmsnormForward(b.out, b.rstd, b.inp, b.w, n, c, 1e-6), ["out", "rstd"]);
    ref.rmsnormForward(bufs.out, bufs.rstd, bufs.inp, bufs.w, n, c, 1e-6);
    crossCheck(bufs, (k, b) => k.rmsnormBackward(b.dinp, b.dw, b.dout, b.inp, b.w, b.rstd, n, c), ["dinp", "dw"], 1e-5, 1e-5);
  });

  test("rope forward and backward, also in place", () => {
    const n = 6, h = 3, d = 10, positions = 20;
    const cos = new Float32Array(positions * (d / 2)), sin = new Float32Array(positions * (d / 2));
    for (let p = 0; p < positions; p++) {
      for (let j = 0; j < d / 2; j++) {
        const angle = p * 10000 ** ((-2 * j) / d);
        cos[p * (d / 2) + j] = Math.cos(angle);
        sin[p * (d / 2) + j] = Math.sin(angle);
      }
    }
    const pos = randi(n, r, 0, positions);
    const bufs = { out: new Float32Array(n * h * d), inp: randf(n * h * d, r), pos, cos, sin };
    crossCheck(bufs, (k, b) => k.ropeForward(b.out, b.inp, b.pos, b.cos, b.sin, n, h, d), ["out"], 1e-6, 1e-7);
    crossCheck(bufs, (k, b) => k.ropeForward(b.inp, b.inp, b.pos, b.cos, b.sin, n, h, d), ["inp"], 1e-6, 1e-7);
    crossCheck(bufs, (k, b) => k.ropeBackward(b.out, b.inp, b.pos, b.cos, b.sin, n, h, d), ["out"], 1e-6, 1e-7);
    crossCheck(bufs, (k, b) => k.ropeBackward(b.inp, b.inp, b.pos, b.cos, b.sin, n, h, d), ["inp"], 1e-6, 1e-7);
  });

  // lengths span several 64-row causal blocks; (sequence, kv head) pairs run on parallel threads
  for (const [hq, hkv] of [[4, 2], [3, 3], [4, 1]] as const) {
    test(`attention forward and backward, packed sequences, Hq=${hq} Hkv=${hkv}`, () => {
      const d = 8;
      const lens = [5, 0, 9, 1, 17, 150];
      const cu = new Int32Array(lens.length + 1);
      lens.forEach((l, i) => (cu[i + 1] = cu[i] + l));
      const s = lens.length, n = cu[s];
      const attLen = lens.reduce((acc, l) => acc + hq * l * l, 0);
      const bufs = {
        out: new Float32Array(n * hq * d), att: new Float32Array(attLen).fill(7),
        q: randf(n * hq * d, r, 2), k: randf(n * hkv * d, r, 2), v: randf(n * hkv * d, r), cu,
        dq: randf(n * hq * d, r), dk: randf(n * hkv * d, r), dv: randf(n * hkv * d, r), dout: randf(n * hq * d, r),
      };
      // att is compared on and below the diagonal: above it, the native kernel zeroes only as far
      // as the row's causal block (what its own backward reads) and leaves the rest unwritten
      const lowerTriangle = (att: Float32Array) => {
        let off = 0;
        for (const l of lens)
          for (let h = 0; h < hq; h++, off += l * l)
            for (let t = 0; t < l; t++) att.fill(0, off + t * l + t + 1, off + (t + 1) * l);
      };
      crossCheck(bufs, (k, b) => (k.attentionForward(b.out, b.att, b.q, b.k, b.v, b.cu, s, hq, hkv, d), lowerTriangle(b.att)), ["out", "att"], 1e-5, 1e-6);
      // backward from each kernel set's own forward (the pair the model runs), over stale att (7s)
      crossCheck(
        bufs,
        (k, b) => {
          k.attentionForward(b.out, b.att, b.q, b.k, b.v, b.cu, s, hq, hkv, d);
          k.attentionBackward(b.dq, b.dk, b.dv, b.dout, b.q, b.k, b.v, b.att, b.cu, s, hq, hkv, d);
        },
        ["dq", "dk", "dv"],
        1e-5,
        1e-5,
      );
    });
  }

  for (const [hq, hkv] of [[4, 2], [4, 4]] as const) {
    test(`attentionCached against a KV cache, Hq=${hq} Hkv=${hkv}`, () => {
      const d = 8, slots = 3, maxLen = 12, nq = 5;
      const slot = new Int32Array([0, 2, 2, 1, 0]);
      const pos = new Int32Array([0, 3, 11, 6, 9]);
      const bufs = {
        out: new Float32Array(nq * hq * d), q: randf(nq * hq * d, r, 2),
        kc: randf(slots * maxLen * hkv * d, r, 2), vc: randf(slots * maxLen * hkv * d, r), slot, pos,
      };
      crossCheck(bufs, (k, b) => k.attentionCached(b.out, b.q, b.kc, b.vc, b.slot, b.pos, nq, hq, hkv, d, maxLen), ["out"], 1e-5, 1e-6);
    });

    // prefill and decode rows mixed, as the engine batches them: a 148-row prompt chunk (three
    // causal blocks), a chunk of another slot right after it, a jump in position within one slot,
    // and single decode rows
    test(`attentionCached with prefill chunks, Hq=${hq} Hkv=${hkv}`, () => {
      const d = 8, slots = 3, maxLen = 160;
      const rows: [number, number][] = [];
      for (let p = 3; p <= 150; p++) rows.push([1, p]);
      for (let p = 0; p < 10; p++) rows.push([2, p]);
      rows.push([2, 20], [2, 21], [0, 7], [1, 159], [0, 0]);
      const nq = rows.length;
      const slot = Int32Array.from(rows, ([s]) => s);
      const pos = Int32Array.from(rows, ([, p]) => p);
      const bufs = {
        out: new Float32Array(nq * hq * d).fill(7), q: randf(nq * hq * d, r, 2),
        kc: randf(slots * maxLen * hkv * d, r, 2), vc: randf(slots * maxLen * hkv * d, r), slot, pos,
      };
      crossCheck(bufs, (k, b) => k.attentionCached(b.out, b.q, b.kc, b.vc, b.slot, b.pos, nq, hq, hkv, d, maxLen), ["out"], 1e-5, 1e-6);
    });
  }

  test("swiglu forward and backward, including large |gate|", () => {
    const n = 1003;
    const gate = randf(n, r, 12);
    gate[0] = 100;
    gate[1] = -100;
    gate[2] = 0;
    const bufs = { out: new Float32Array(n), gate, up: randf(n, r), dgate: randf(n, r), dup: randf(n, r), dout: randf(n, r) };
    crossCheck(bufs, (k, b) => k.swigluForward(b.out, b.gate, b.up, n), ["out"], 1e-5, 1e-7);
    crossCheck(bufs, (k, b) => k.swigluBackward(b.dgate, b.dup, b.dout, b.gate, b.up, n), ["dgate", "dup"], 1e-5, 1e-6);
  });

  test("logprob forward and backward (with and without entropy, in place), ignored rows", () => {
    const n = 6, v = 1000;
    const targets = randi(n, r, 0, v);
    targets[2] = -1;
    targets[4] = -100;
    const logits = randf(n * v, r, 5);
    logits[3 * v + targets[3]] = 30; // a confident row: entropy near 0
    const bufs = {
      logp: new Float32Array(n), entropy: new Float32Array(n), lse: new Float32Array(n), logits, targets,
      dlogits: randf(n * v, r), dlogp: randf(n, r), dentropy: randf(n, r),
    };
    crossCheck(bufs, (k, b) => k.logprobForward(b.logp, b.entropy, b.lse, b.logits, b.targets, n, v), ["logp", "entropy", "lse"], 1e-5, 1e-6);
    ref.logprobForward(bufs.logp, bufs.entropy, bufs.lse, logits, targets, n, v);
    crossCheck(bufs, (k, b) => k.logprobBackward(b.dlogits, b.dlogp, b.dentropy, b.logits, b.lse, b.targets, n, v), ["dlogits"], 1e-5, 1e-7);
    crossCheck(bufs, (k, b) => k.logprobBackward(b.dlogits, b.dlogp, null, b.logits, b.lse, b.targets, n, v), ["dlogits"], 1e-5, 1e-7);
    crossCheck(bufs, (k, b) => k.logprobBackward(b.logits, b.dlogp, b.dentropy, b.logits, b.lse, b.targets, n, v), ["logits"], 1e-5, 1e-7);
  });

  test("adamw", () => {
    const n = 1001;
    const bufs = { param: randf(n, r), grad: randf(n, r, 0.1), m: randf(n, r, 0.01), v: randf(n, r, 0.001).map(Math.abs) };
    const step = 3, b1 = 0.9, b2 = 0.999;
    crossCheck(
      bufs,
      (k, b) => k.adamw(b.param, b.grad, b.m, b.v, n, 1e-3, b1, b2, 1e-8, 0.1, 1 - b1 ** step, 1 - b2 ** step, 0.5),
      ["param", "m", "v"],
      1e-6,
      1e-9,
    );
  });

  test("large calls, split over threads, match too (at 1 and 2 OpenBLAS threads)", () => {
    const before = native!.getThreads();
    try {
      for (const threads of [1, 2]) {
        native!.setThreads(threads);
        const n = 300_001;
        const sw = { out: new Float32Array(n), gate: randf(n, r, 8), up: randf(n, r), dgate: randf(n, r), dup: randf(n, r), dout: randf(n, r) };
        crossCheck(sw, (k, b) => k.swigluForward(b.out, b.gate, b.up, n), ["out"], 1e-5, 1e-7);
        crossCheck(sw, (k, b) => k.swigluBackward(b.dgate, b.dup, b.dout, b.gate, b.up, n), ["dgate", "dup"], 1e-5, 1e-6);
        const rows = 37, v = 8000;
        const targets = randi(rows, r, -1, v);
        const lp = {
          logp: new Float32Array(rows), entropy: new Float32Array(rows), lse: new Float32Array(rows), logits: randf(rows * v, r, 4), targets,
          dlogits: new Float32Array(rows * v), dlogp: randf(rows, r), dentropy: randf(rows, r),
        };
        crossCheck(lp, (k, b) => k.logprobForward(b.logp, b.entropy, b.lse, b.logits, b.targets, rows, v), ["logp", "entropy", "lse"], 1e-5, 1e-5);
        ref.logprobForward(lp.logp, lp.entropy, lp.lse, lp.logits, targets, rows, v);
        crossCheck(lp, (k, b) => k.logprobBackward(b.dlogits, b.dlogp, b.dentropy, b.logits, b.lse, b.targets, rows, v), ["dlogits"], 1e-5, 1e-8);
        const ad = { param: randf(n, r), grad: randf(n, r, 0.1), m: randf(n, r, 0.01), v: randf(n, r, 0.001).map(Math.abs) };
        crossCheck(ad, (k, b) => k.adamw(b.param, b.grad, b.m, b.v, n, 1e-3, 0.9, 0.95, 1e-8, 0.1, 0.19, 0.0975, 1), ["param", "m", "v"], 1e-6, 1e-9);
        const c = 256, nr = 1100;
        const rn = { out: new Float32Array(nr * c), rstd: new Float32Array(nr), inp: randf(nr * c, r, 2), w: randf(c, r) };
        crossCheck(rn, (k, b) => k.rmsnormForward(b.out, b.rstd, b.inp, b.w, nr, c, 1e-6), ["out", "rstd"]);
      }
    } finally {
      native!.setThreads(before);
    }
  }, 240_000); // ~20 s alone; OpenBLAS threads spin badly when the 2 cores are oversubscribed

  test("out-of-range indices throw instead of touching memory", () => {
    const x = new Float32Array(64);
    expect(() => native!.embeddingForward(x, new Int32Array([0, 8]), x, 2, 8)).toThrow(/ids\[1\] = 8 is out of range \[0, 8\)/);
    expect(() => native!.embeddingBackward(x, x, new Int32Array([-1]), 1, 8)).toThrow(RangeError);
    expect(() => native!.logprobForward(x, x, x, x, new Int32Array([3, 8]), 2, 8)).toThrow(/targets\[1\] = 8/);
    expect(() => native!.ropeForward(x, x, new Int32Array([100]), x, x, 1, 1, 4)).toThrow(/pos\[0\] = 100/);
    expect(() => native!.attentionForward(x, x, x, x, x, new Int32Array([0, 3, 2]), 2, 1, 1, 2)).toThrow(/non-decreasing/);
    expect(() => native!.attentionForward(x, x, x, x, x, new Int32Array([0, 2]), 1, 3, 2, 2)).toThrow(/multiple of hkv/);
    expect(() => native!.attentionCached(x, x, x, x, new Int32Array([1]), new Int32Array([0]), 1, 1, 1, 4, 16)).toThrow(/slot\[0\] = 1/);
  });
});

// ------------------------------------------------------------------------------------------------

describe("kernel selection", () => {
  test("GYMRL_KERNELS=reference forces the reference kernels; prefer picks otherwise", () => {
    vi.stubEnv("GYMRL_KERNELS", "reference");
    try {
      expect(getKernels().name).toBe("reference");
    } finally {
      vi.unstubAllEnvs();
    }
    expect(getKernels({ prefer: "reference" }).name).toBe("reference");
    if (native) expect(getKernels().name).toBe("native(openblas)");
  });

  test("an unknown GYMRL_KERNELS value is an error", () => {
    vi.stubEnv("GYMRL_KERNELS", "blas");
    try {
      expect(() => getKernels()).toThrow(/GYMRL_KERNELS must be "native" or "reference"/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  test("without the addon: the reference kernels and one line on stderr; forced native throws", () => {
    const index = new URL("./index.ts", import.meta.url).href;
    const script = `
      const { getKernels } = await import(${JSON.stringify(index)});
      console.log(getKernels().name, getKernels().name);
      try { process.env.GYMRL_KERNELS = "native"; getKernels(); } catch (e) { console.log("forced:", e.message); }
    `;
    const res = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      env: { ...process.env, GYMRL_NATIVE_PATH: "/nonexistent/gymrl_native.node", GYMRL_KERNELS: "" },
      encoding: "utf8",
    });
    expect(res.status, res.stderr).toBe(0);
    const lines = res.stdout.trim().split("\n");
    expect(lines[0]).toBe("reference reference");
    expect(lines[1]).toMatch(/^forced: GYMRL_KERNELS=native but the native kernels are unavailable/);
    const warnings = res.stderr.split("\n").filter((l) => l.includes("native kernels unavailable"));
    expect(warnings).toHaveLength(1);
  });
});
