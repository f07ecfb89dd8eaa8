/**
 * The native fast path of `Kernels`: an N-API addon (native/gymrl_native.c, built by `npm install`
 * into build/Release/gymrl_native.node) that runs matmul on OpenBLAS sgemm and the fused kernels
 * as plain C loops. Float32 only: a call with Float64Array buffers goes to the fallback kernels
 * (the TypeScript reference) for that call, so float64 gradient checks work through either path.
 *
 * Not the kernel selection (that is index.ts) and not the semantics (reference.ts defines them).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import type { FloatArray, Kernels } from "./kernels.ts";

/** What the addon exports; argument order and sizes as in `Kernels` (float32 buffers only). */
export interface NativeAddon {
  sgemm(
    c: Float32Array,
    a: Float32Array,
    b: Float32Array,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    beta: number,
  ): void;
  setThreads(n: number): void;
  getThreads(): number;
  openblasConfig(): string;
  /** sgemm's argument parsing and nothing else: measures the per-call overhead. */
  noop(...args: Parameters<NativeAddon["sgemm"]>): void;
  add: Kernels["add"];
  sumSquares: Kernels["sumSquares"];
  embeddingForward: Kernels["embeddingForward"];
  embeddingBackward: Kernels["embeddingBackward"];
  rmsnormForward: Kernels["rmsnormForward"];
  rmsnormBackward: Kernels["rmsnormBackward"];
  ropeForward: Kernels["ropeForward"];
  ropeBackward: Kernels["ropeBackward"];
  attentionForward: Kernels["attentionForward"];
  attentionBackward: Kernels["attentionBackward"];
  attentionCached: Kernels["attentionCached"];
  swigluForward: Kernels["swigluForward"];
  swigluBackward: Kernels["swigluBackward"];
  logprobForward: Kernels["logprobForward"];
  logprobBackward: Kernels["logprobBackward"];
  adamw: Kernels["adamw"];
}

/** The outcome of loading the addon, kept for the process. */
export type NativeLoad =
  | { kind: "ok"; addon: NativeAddon; path: string }
  | { kind: "unavailable"; reason: string };

/** Kernels backed by the addon, plus its thread control. */
export interface NativeKernels extends Kernels {
  readonly addon: NativeAddon;
  /**
   * Threads for sgemm (OpenBLAS, process-wide), and how many threads attention and large
   * rmsnormForward, swiglu, logprob and adamw calls split over; other kernels use the calling thread.
   */
  setThreads(n: number): void;
  getThreads(): number;
  /** OpenBLAS build and the core it picked, e.g. "OpenBLAS 0.3.21 ... ; core Haswell; 2 procs". */
  openblasConfig(): string;
}

const ADDON_FILE = "build/Release/gymrl_native.node";

/** Where the addon may be: $GYMRL_NATIVE_PATH, else build/ at the package root (from src/ or dist/src/). */
function addonCandidates(): string[] {
  if (process.env.GYMRL_NATIVE_PATH) return [resolve(process.env.GYMRL_NATIVE_PATH)];
  const here = dirname(fileURLToPath(import.meta.url));
  return [resolve(here, "../..", ADDON_FILE), resolve(here, "../../..", ADDON_FILE)];
}

let loaded: NativeLoad | undefined;

/** Loads build/Release/gymrl_native.node once. Throws only for an invalid $GYMRL_THREADS. */
export function loadNativeAddon(): NativeLoad {
  if (loaded) return loaded;
  const candidates = addonCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    loaded = { kind: "unavailable", reason: `addon not built (no ${candidates[0]})` };
    return loaded;
  }
  // OpenBLAS's idle threads spin (sched_yield) for 2^28 cycles (~0.1 s) after every call unless
  // told otherwise, and here they took the cores from the attention and element-wise threads gymrl
  // runs between sgemm calls: SFT of the workplace demo spent a fifth of its CPU time in
  // sched_yield and ran ~15% slower than with 2^20 cycles (~0.3 ms). Read when OpenBLAS loads, so
  // set before the addon (which links it) is; a value the user set is kept.
  process.env.OPENBLAS_THREAD_TIMEOUT ??= "20";
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (typeof addon.sgemm !== "function") throw new Error("it does not export sgemm");
    loaded = { kind: "ok", addon, path };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    loaded = { kind: "unavailable", reason: `cannot load ${path}: ${msg.split("\n")[0]}` };
  }
  if (loaded.kind === "ok") applyDefaultThreads(loaded.addon);
  return loaded;
}

/**
 * OpenBLAS threads: $GYMRL_THREADS if set; else OpenBLAS's own choice when $OPENBLAS_NUM_THREADS
 * or $OMP_NUM_THREADS is set; else one per core the process may use.
 */
function applyDefaultThreads(addon: NativeAddon): void {
  const env = process.env.GYMRL_THREADS;
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`GYMRL_THREADS must be a positive integer, got "${env}"`);
    addon.setThreads(n);
  } else if (!process.env.OPENBLAS_NUM_THREADS && !process.env.OMP_NUM_THREADS) {
    addon.setThreads(availableParallelism());
  }
}

/** Every method of `k` (own or inherited), bound to it: the base that native methods override. */
function delegateTo(k: Kernels): Kernels {
  const out: Record<string, unknown> = {};
  for (let o: object | null = k; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === "constructor" || key in out) continue;
      const v = (k as unknown as Record<string, unknown>)[key];
      out[key] = typeof v === "function" ? v.bind(k) : v;
    }
  }
  return out as unknown as Kernels;
}

const f32 = (x: FloatArray): x is Float32Array => x instanceof Float32Array;

/**
 * Native kernels over `fallback`: every method the addon implements runs natively on Float32Array
 * buffers and delegates Float64Array calls to `fallback`; a method the addon lacks (one added to
 * `Kernels` later) runs on `fallback` for every call. Returns null when the addon is unavailable
 * (see `loadNativeAddon().reason`).
 */
export function createNativeKernels(fallback: Kernels): NativeKernels | null {
  const load = loadNativeAddon();
  if (load.kind !== "ok") return null;
  const x = load.addon;
  const ref = fallback;

  const fast = {
    matmul(c, a, b, m, n, k, transA, transB, beta) {
      if (f32(c)) x.sgemm(c, a as Float32Array, b as Float32Array, m, n, k, transA, transB, beta);
      else ref.matmul(c, a, b, m, n, k, transA, transB, beta);
    },
    add(out, a, b, n) {
      if (f32(out)) x.add(out, a, b, n);
      else ref.add(out, a, b, n);
    },
    sumSquares(v, n) {
      return f32(v) ? x.sumSquares(v, n) : ref.sumSquares(v, n);
    },
    embeddingForward(out, ids, wte, n, c) {
      if (f32(out)) x.embeddingForward(out, ids, wte, n, c);
      else ref.embeddingForward(out, ids, wte, n, c);
    },
    embeddingBackward(dwte, dout, ids, n, c) {
      if (f32(dwte)) x.embeddingBackward(dwte, dout, ids, n, c);
      else ref.embeddingBackward(dwte, dout, ids, n, c);
    },
    rmsnormForward(out, rstd, inp, w, n, c, eps) {
      if (f32(out)) x.rmsnormForward(out, rstd, inp, w, n, c, eps);
      else ref.rmsnormForward(out, rstd, inp, w, n, c, eps);
    },
    rmsnormBackward(dinp, dw, dout, inp, w, rstd, n, c) {
      if (f32(dinp)) x.rmsnormBackward(dinp, dw, dout, inp, w, rstd, n, c);
      else ref.rmsnormBackward(dinp, dw, dout, inp, w, rstd, n, c);
    },
    ropeForward(out, inp, pos, cos, sin, n, h, d) {
      if (f32(out)) x.ropeForward(out, inp, pos, cos, sin, n, h, d);
      else ref.ropeForward(out, inp, pos, cos, sin, n, h, d);
    },
    ropeBackward(dinp, dout, pos, cos, sin, n, h, d) {
      if (f32(dinp)) x.ropeBackward(dinp, dout, pos, cos, sin, n, h, d);
      else ref.ropeBackward(dinp, dout, pos, cos, sin, n, h, d);
    },
    attentionForward(out, att, q, k, v, cuSeqlens, s, hq, hkv, d) {
      if (f32(out)) x.attentionForward(out, att, q, k, v, cuSeqlens, s, hq, hkv, d);
      else ref.attentionForward(out, att, q, k, v, cuSeqlens, s, hq, hkv, d);
    },
    attentionBackward(dq, dk, dv, dout, q, k, v, att, cuSeqlens, s, hq, hkv, d) {
      if (f32(dq)) x.attentionBackward(dq, dk, dv, dout, q, k, v, att, cuSeqlens, s, hq, hkv, d);
      else ref.attentionBackward(dq, dk, dv, dout, q, k, v, att, cuSeqlens, s, hq, hkv, d);
    },
    attentionCached(out, q, kCache, vCache, slot, pos, nq, hq, hkv, d, maxLen) {
      if (f32(out)) x.attentionCached(out, q, kCache, vCache, slot, pos, nq, hq, hkv, d, maxLen);
      else ref.attentionCached(out, q, kCache, vCache, slot, pos, nq, hq, hkv, d, maxLen);
    },
    swigluForward(out, gate, up, n) {
      if (f32(out)) x.swigluForward(out, gate, up, n);
      else ref.swigluForward(out, gate, up, n);
    },
    swigluBackward(dgate, dup, dout, gate, up, n) {
      if (f32(dgate)) x.swigluBackward(dgate, dup, dout, gate, up, n);
      else ref.swigluBackward(dgate, dup, dout, gate, up, n);
    },
    logprobForward(logp, entropy, lse, logits, targets, n, v) {
      if (f32(logp)) x.logprobForward(logp, entropy, lse, logits, targets, n, v);
      else ref.logprobForward(logp, entropy, lse, logits, targets, n, v);
    },
    logprobBackward(dlogits, dlogp, dentropy, logits, lse, targets, n, v) {
      if (f32(dlogits)) x.logprobBackward(dlogits, dlogp, dentropy, logits, lse, targets, n, v);
      else ref.logprobBackward(dlogits, dlogp, dentropy, logits, lse, targets, n, v);
    },
    adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale) {
      if (f32(param)) x.adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale);
      else ref.adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale);
    },
  } satisfies Partial<Kernels>;

  return Object.assign(delegateTo(fallback), fast, {
    name: "native(openblas)",
    addon: x,
    setThreads: (n: number) => x.setThreads(n),
    getThreads: () => x.getThreads(),
    openblasConfig: () => x.openblasConfig(),
  });
}
