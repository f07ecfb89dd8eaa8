/**
 * The PyTorch worker against the embedded trainer, with real child processes (the system Python's
 * torch): same weights and batch → the same per-token logprobs (1e-4), the same loss and flattened
 * gradient (1e-4 relative), the same AdamW step; an engine refitted from the worker's export samples
 * with the worker's logprobs; DDP over 2 ranks takes the same step as 1 rank;
 * checkpoints cross between the two trainers; a bad control request gets a 4xx and the worker keeps
 * serving; a killed rank fails the next call at once, naming the rank. Skipped where no interpreter
 * imports torch (Debian: apt-get install python3-torch).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createEmbeddedEngine } from "../../engine/index.ts";
import { loadCheckpoint, loadModel } from "../../model/checkpoint.ts";
import { Model } from "../../model/model.ts";
import { getKernels } from "../../tensor/index.ts";
import type { ClippedPgLossConfig } from "../defaults.ts";
import { EmbeddedTrainer, type TrainBatch } from "../trainer.ts";
import { TorchRequestError, TorchTrainer } from "./client.ts";
import { findTorchPython, TorchWorkerError } from "./launcher.ts";
import { randomCheckpoint, randomTrainBatch, tmpDir } from "./testing.ts";
import { encodeArray } from "./wire.ts";

const python = await findTorchPython().catch(() => null);
const kernels = getKernels();
const T = 0.7; // scoring temperature: the sampler's softmax(logits / T)
const IDS = [3, 5, 8, 13, 21, 34, 55, 89, 144]; // tinyConfig's compact vocabulary
const LOSS: Partial<ClippedPgLossConfig> = {
  referencePolicyKlPenalty: 0.05,
  useImportanceSamplingCorrection: true,
  truncatedImportanceSamplingType: "tis",
  truncatedImportanceSamplingRatio: 2,
};
const ADAMW = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, gradClip: 1.0 };

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function embedded(model: Model): EmbeddedTrainer {
  const copy = new Model(model.config, { kernels, params: Float32Array.from(model.params.flat) });
  return new EmbeddedTrainer({ model: copy, adamw: ADAMW, temperature: T, microBatchTokens: 4096 });
}

describe.skipIf(!python)("torch worker vs the embedded trainer", () => {
  let init: { dir: string; model: Model };
  let one: TorchTrainer;
  let two: TorchTrainer;
  let batch: TrainBatch;

  beforeAll(async () => {
    init = randomCheckpoint(kernels);
    const common = { checkpoint: init.dir, adamw: ADAMW, temperature: T, callTimeoutS: 60 };
    // small micro-batches on the torch side: the global-normaliser path is exercised too
    [one, two] = await Promise.all([
      TorchTrainer.start({ ...common, nprocPerNode: 1, microBatchTokens: 16 }),
      TorchTrainer.start({ ...common, nprocPerNode: 2, microBatchTokens: 16, threadsPerRank: 1 }),
    ]);
    const own = embedded(init.model).logprobsSync(randomTrainBatch(1, IDS, [9, 14, 6, 11, 17, 8], 3));
    batch = randomTrainBatch(1, IDS, [9, 14, 6, 11, 17, 8], 3, own.logprobs);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
  });

  test("it says which interpreter and how it computes", () => {
    expect(one.python.torchVersion).toMatch(/^\d+\.\d+/);
    expect(one.description).toContain("torch ×1");
    expect(two.description).toContain("torch DDP ×2 (gloo");
    expect(one.numParams).toBe(init.model.numParams);
  });

  test("per-token logprobs and entropy at T equal the embedded trainer's within 1e-4", async () => {
    const want = embedded(init.model).logprobsSync(batch);
    for (const t of [one, two]) {
      const got = await t.logprobs(batch);
      expect(maxAbsDiff(got.logprobs, want.logprobs)).toBeLessThan(1e-4);
      expect(maxAbsDiff(got.entropy, want.entropy)).toBeLessThan(1e-4);
    }
    // the out-of-vocabulary token scores 0, like the embedded model's "no target"
    const unk = Array.from(batch.tokens).findIndex((id, t) => id === 100_000 && t > 0 && !Array.from(batch.seqOffsets).includes(t));
    if (unk > 0) expect(want.logprobs[unk]).toBe(0);
  });

  test("loss and flattened gradient equal the embedded trainer's within 1e-4 relative", async () => {
    const e = embedded(init.model);
    let embeddedGrad: Float32Array | null = null;
    // capture the embedded gradient at the moment it would be applied
    const probe = new EmbeddedTrainer({
      model: e.model,
      adamw: ADAMW,
      temperature: T,
      commit: async () => {
        embeddedGrad = Float32Array.from(e.model.grads.flat);
      },
    });
    const ref = await probe.trainStep(batch, LOSS, { lr: 1e-3 });
    for (const t of [one, two]) {
      const fb = await t.forwardBackward(batch, LOSS);
      const g = await t.grads();
      await t.zeroGrad();
      expect(Math.abs(fb.loss - ref.metrics.loss) / Math.abs(ref.metrics.loss)).toBeLessThan(1e-4);
      expect(relErr(g, embeddedGrad!)).toBeLessThan(1e-4);
    }
  });

  test("one step: DDP ×2 updates the weights as 1 rank does (1e-5), and as the embedded AdamW", async () => {
    const e = embedded(init.model);
    const ref = await e.trainStep(batch, LOSS, { lr: 1e-3 });
    const [r1, r2] = await Promise.all([one.trainStep(batch, LOSS, { lr: 1e-3 }), two.trainStep(batch, LOSS, { lr: 1e-3 })]);
    const dir = tmpDir();
    const [d1, d2] = await Promise.all([one.exportCheckpoint(join(dir, "np1")), two.exportCheckpoint(join(dir, "np2"))]);
    const w1 = loadModel(d1, { kernels }).params.flat;
    const w2 = loadModel(d2, { kernels }).params.flat;
    expect(maxAbsDiff(w2, w1)).toBeLessThan(1e-5);
    expect(maxAbsDiff(w1, e.model.params.flat)).toBeLessThan(1e-5);
    expect(Math.abs(r1.gradNorm - ref.gradNorm) / ref.gradNorm).toBeLessThan(1e-4);
    expect(Math.abs(r2.gradNorm - r1.gradNorm) / r1.gradNorm).toBeLessThan(1e-5);
    // metrics come from the same TypeScript loss over the worker's logprobs
    expect(Math.abs(r1.metrics.loss - ref.metrics.loss) / Math.abs(ref.metrics.loss)).toBeLessThan(1e-4);
    expect(r1.metrics.tokenMultProbError).toBeCloseTo(ref.metrics.tokenMultProbError, 4);
  });

  test("checkpoints cross: the torch save loads in gymrl, and the embedded save loads in torch", async () => {
    const dir = join(tmpDir(), "torch-save");
    await one.save(dir, { step: 1, note: "torch" });
    const ck = loadCheckpoint(dir, { kernels });
    expect(ck.state).toEqual({ step: 1, note: "torch" });
    expect(ck.optimizer!.t).toBe(1);
    expect(Math.max(...ck.optimizer!.v.subarray(0, 100))).toBeGreaterThan(0);
    // an embedded trainer two steps on, saved with its optimizer: torch takes its weights and state
    const e = embedded(init.model);
    await e.trainStep(batch, LOSS, { lr: 1e-3 });
    await e.trainStep(batch, LOSS, { lr: 1e-3 });
    const edir = join(tmpDir(), "embedded-save");
    await e.save(edir, { step: 2 });
    expect(await one.load(edir)).toEqual({ step: 2 });
    expect((await one.health()).step).toBe(2);
    const want = e.logprobsSync(batch);
    expect(maxAbsDiff((await one.logprobs(batch)).logprobs, want.logprobs)).toBeLessThan(1e-4);
    // and the next step from that restored state matches the embedded next step
    await Promise.all([e.trainStep(batch, LOSS, { lr: 1e-3 }), one.trainStep(batch, LOSS, { lr: 1e-3 })]);
    const w = loadModel(await one.exportCheckpoint(join(tmpDir(), "x")), { kernels }).params.flat;
    expect(maxAbsDiff(w, e.model.params.flat)).toBeLessThan(1e-5);
  });

  test("refit through a file: the engine, loaded from the worker's export, samples with the worker's logprobs (1e-4)", async () => {
    const engine = await createEmbeddedEngine({ modelDir: init.dir, slots: 2, thread: "main" });
    try {
      const dir = await one.exportCheckpoint(join(tmpDir(), "refit"));
      expect(await engine.updateWeights({ kind: "checkpoint", dir })).toBe(1);
      const prompt = [3, 5, 8, 13, 21];
      const r = await engine.generate({ promptTokenIds: prompt, sampling: { temperature: T, topP: 1, topK: 0, seed: 3 }, maxTokens: 10, stopTokenIds: [] });
      const tokens = Int32Array.from([...prompt, ...r.generationTokenIds]);
      const got = await one.logprobs({ tokens, seqOffsets: Int32Array.from([0, tokens.length]) });
      expect(maxAbsDiff(got.logprobs.subarray(prompt.length), r.generationLogProbs)).toBeLessThan(1e-4);
    } finally {
      await engine.close();
    }
  });

  test("bad control requests get a 4xx JSON error naming the field, and the worker keeps serving", async () => {
    const url = `http://127.0.0.1:${two.ready.port}`;
    const post = async (path: string, body: string) => {
      const r = await fetch(url + path, { method: "POST", body, headers: { "content-type": "application/json" } });
      return { status: r.status, body: (await r.json()) as { error?: { field?: string; message: string } } };
    };
    const tokens = encodeArray(Int32Array.from([3, 5, 8]));
    expect((await post("/forward", "{not json")).status).toBe(400);
    const bad64 = await post("/forward", JSON.stringify({ tokens: "%%%", seq_offsets: tokens }));
    expect([bad64.status, bad64.body.error?.field]).toEqual([400, "tokens"]);
    const offs = await post("/forward", JSON.stringify({ tokens, seq_offsets: encodeArray(Int32Array.from([0, 2])) }));
    expect([offs.status, offs.body.error?.field]).toEqual([400, "seq_offsets"]);
    const lr = await post("/optim_step", JSON.stringify({ lr: "fast" }));
    expect([lr.status, lr.body.error?.field]).toEqual([400, "lr"]);
    expect((await post("/nowhere", "{}")).status).toBe(404);
    // a wrong loss option through the client: a TorchRequestError, not a dead worker
    const err = await two.trainStep(batch, { ...LOSS, truncatedImportanceSamplingType: "bogus" as never }, { lr: 1e-3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TorchRequestError);
    expect((err as TorchRequestError).field).toBe("loss_config");
    const ok = await two.logprobs(batch);
    expect(ok.logprobs.length).toBe(batch.tokens.length);
    expect((await two.health()).status).toBe("ok");
  });

  test("a killed rank fails the next call at once with its rank and last log lines", async () => {
    const pid = two.pids().get(1)!;
    process.kill(pid, "SIGKILL");
    const t0 = performance.now();
    const err = await two.trainStep(batch, LOSS, { lr: 1e-3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TorchWorkerError);
    expect((err as TorchWorkerError).rank).toBe(1);
    expect((err as Error).message).toMatch(/rank 1 was killed by SIGKILL/);
    expect((err as Error).message).toMatch(/rank 1: last \d+ lines/);
    expect(performance.now() - t0).toBeLessThan(30_000);
    // and every later call fails the same way instead of hanging
    await expect(two.logprobs(batch)).rejects.toThrow(/rank 1/);
  });
});
