/**
 * The native kernels run the whole model like the reference kernels do: forward (logp, entropy),
 * backward (every parameter's gradient), an AdamW step and KV-cache decode, in float32.
 * Tolerance: float32 sums in a different order (BLAS blocking, a polynomial exp) differ by a few
 * ulp per op; we allow 1e-4 absolute on log-probabilities and 1e-3 relative L2 error per gradient
 * tensor. Skipped when the addon is not built.
 */
import { describe, expect, test } from "vitest";
import { getNativeKernels, nativeUnavailableReason } from "../tensor/index.ts";
import type { FloatArray } from "../tensor/kernels.ts";
import { referenceKernels } from "../tensor/reference.ts";
import { Model, packBatch } from "./model.ts";
import { AdamW } from "./optimizer.ts";
import { Rng } from "./rng.ts";
import { randomizeParams, tinyConfig } from "./testing.ts";

const native = getNativeKernels();
const reason = native ? "" : ` (${nativeUnavailableReason()})`;

function relL2(a: FloatArray, b: FloatArray): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

describe.skipIf(!native)(`native kernels vs reference, whole model, float32${reason}`, () => {
  const ids = Array.from({ length: 200 }, (_, i) => 3 * i + 1);
  const cfg = tinyConfig({
    hidden_size: 64,
    intermediate_size: 176,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    vocab_size: ids.length + 1,
    gymrl_vocab_map: ids,
    max_position_embeddings: 128,
  });
  const rng = new Rng(9);
  const seqs = [40, 7, 65, 1, 23].map((len) => Array.from({ length: len }, () => ids[rng.int(ids.length)]));

  function make(kernels: typeof referenceKernels): Model {
    const m = new Model(cfg, { kernels, seed: 1 });
    randomizeParams(m, 2, 0.1);
    return m;
  }

  test("forward, backward and an optimizer step agree", () => {
    const ref = make(referenceKernels);
    const nat = make(native!);
    const batch = packBatch(seqs);
    const n = batch.tokens.length;
    const dlogp = new Float32Array(n).map(() => rng.normal());
    const dent = new Float32Array(n).map(() => rng.normal());
    const fr = ref.forward(batch);
    const fn = nat.forward(batch);
    for (let i = 0; i < n; i++) {
      expect(Math.abs(fn.logp[i] - fr.logp[i])).toBeLessThan(1e-4);
      expect(Math.abs(fn.entropy[i] - fr.entropy[i])).toBeLessThan(1e-4);
    }
    for (const m of [ref, nat]) m.zeroGrad();
    ref.backward(dlogp, dent);
    nat.backward(dlogp, dent);
    for (const s of ref.specs) {
      const gr = ref.grads.flat.subarray(s.offset, s.offset + s.size);
      const gn = nat.grads.flat.subarray(s.offset, s.offset + s.size);
      expect(relL2(gn, gr), s.name).toBeLessThan(1e-3);
    }
    const or = new AdamW(ref);
    const on = new AdamW(nat);
    or.step(ref, 1e-3);
    on.step(nat, 1e-3);
    expect(relL2(nat.params.flat, ref.params.flat)).toBeLessThan(1e-5);
  });

  test("batched decode agrees", () => {
    const ref = make(referenceKernels);
    const nat = make(native!);
    const [cr, cn] = [ref.createKVCache(3, 64), nat.createKVCache(3, 64)];
    const pre = [seqs[0].slice(0, 30), seqs[2].slice(0, 5), seqs[4].slice(0, 12)];
    const lr = Float32Array.from(ref.prefillBatch(cr, [0, 1, 2], pre));
    const ln = nat.prefillBatch(cn, [0, 1, 2], pre);
    expect(relL2(ln, lr)).toBeLessThan(1e-4);
    for (let t = 0; t < 5; t++) {
      const toks = [seqs[0][30 + t], seqs[2][5 + t], seqs[4][12 + t]];
      const dr = Float32Array.from(ref.decodeStep(cr, [0, 1, 2], toks));
      const dn = nat.decodeStep(cn, [0, 1, 2], toks);
      expect(relL2(dn, dr)).toBeLessThan(1e-4);
    }
  });
});
