/**
 * `runSft`: supervised fine-tuning on chat conversations, from scratch or from a checkpoint (`init`;
 * with `resume` also its optimizer state and step). Loss is on assistant tokens only (see
 * chat-examples.ts). Writes OUT/metrics.jsonl (one line per step), OUT/run.json (the resolved
 * settings), OUT/checkpoint/ (HF-style, see model/checkpoint.ts) and, with `save_every`, OUT/checkpoint-STEP/.
 *
 * model.yaml: `model:` holds config.json fields (vocab_size and gymrl_vocab_map are filled from the
 * corpus for a fresh model and may be left out; defaults are the demo model's), `train:` holds
 * the hyperparameters (see TrainSchema). Not here: the training loop itself (model/sft.ts).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { formatConfigIssues } from "../gym/config/unknown-keys.ts";
import { loadCheckpoint, saveCheckpoint } from "../model/checkpoint.ts";
import { type ModelConfig, parseModelConfig } from "../model/config.ts";
import { demoModelConfig } from "../model/default-config.ts";
import { Model } from "../model/model.ts";
import { AdamW } from "../model/optimizer.ts";
import { Rng } from "../model/rng.ts";
import { type SftHyper, type StepMetrics, evalLoss, trainSft } from "../model/sft.ts";
import { buildVocabMap } from "../model/vocab.ts";
import { getKernels } from "../tensor/index.ts";
import { loadChatFormat } from "../tokenizer/index.ts";
import { formatDuration, formatRate } from "../rollout/progress.ts";
import { fileChatExamples } from "./chat-examples.ts";

// ------------------------------------------------------------------------------------------------
// settings

export const TrainSchema = z.strictObject({
  /** peak learning rate */
  lr: z.number().positive().default(3e-3),
  /** optimizer steps */
  steps: z.number().int().positive().default(300),
  /** tokens per step (whole conversations are packed up to this many) */
  batch_tokens: z.number().int().positive().default(4096),
  warmup_steps: z.number().int().nonnegative().default(20),
  schedule: z.enum(["constant", "cosine"]).default("cosine"),
  min_lr_ratio: z.number().min(0).max(1).default(0.1),
  /** cosine: decay only over the last decay_steps steps, at the peak lr before (0: the whole run) */
  decay_steps: z.number().int().min(0).default(0),
  seed: z.number().int().default(0),
  weight_decay: z.number().min(0).default(0.1),
  grad_clip: z.number().min(0).default(1.0),
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.95),
  /** fraction of conversations held out for eval_loss */
  held_out: z.number().min(0).max(0.5).default(0.05),
  /** held-out evaluation cadence in steps (0 = only at the end) */
  eval_every: z.number().int().nonnegative().default(50),
  /** progress line cadence in steps */
  log_every: z.number().int().positive().default(10),
  /** also keep OUT/checkpoint-STEP every this many steps (0: only OUT/checkpoint at the end), to pick a warm start after the run */
  save_every: z.number().int().nonnegative().default(0),
});
export type TrainSettings = z.infer<typeof TrainSchema>;

// Strict: a misspelt key is an error naming it and the nearest known one. `model:` stays open,
// as config.json is (parseModelConfig keeps fields it does not know).
const FileSchema = z.strictObject({
  model: z.record(z.string(), z.unknown()).default({}),
  train: TrainSchema.default(TrainSchema.parse({})),
});

/** Validates an SFT config file's contents; errors name the file, the key and the nearest known key. */
export function parseSftFile(raw: unknown, source?: string): z.infer<typeof FileSchema> {
  const r = FileSchema.safeParse(raw);
  if (!r.success) throw new Error(`invalid SFT config:\n${formatConfigIssues(FileSchema, r.error.issues, { source }).map((l) => `  ${l}`).join("\n")}`);
  return r.data;
}

// ------------------------------------------------------------------------------------------------
// the run

export interface SftArgs {
  data: string;
  config: string;
  out: string;
  init?: string;
  /** with init: also restore the optimizer state and step, and continue to train.steps */
  resume?: boolean;
  /** overrides train.steps */
  steps?: number;
  /** overrides train.seed */
  seed?: number;
  /** also stop after the step at which training time (from the first step) reaches this many seconds */
  maxSeconds?: number;
  /** progress lines go here (default: stdout) */
  log?: (line: string) => void;
}

/** A checkpoint directory: DIR itself, or DIR/checkpoint for a run directory; `flag` names DIR in the error. */
export function checkpointDir(dir: string, flag = "--init"): string {
  if (existsSync(join(dir, "config.json"))) return dir;
  if (existsSync(join(dir, "checkpoint", "config.json"))) return join(dir, "checkpoint");
  throw new Error(`${flag} ${dir}: no config.json there or in ${join(dir, "checkpoint")}`);
}

/** Runs SFT as `gymrl sft` does; returns the last step's metrics and the initial held-out loss. */
export function runSft(args: SftArgs): { last: StepMetrics; initialEvalLoss: number; model: Model } {
  const log = args.log ?? ((line: string) => process.stdout.write(line + "\n"));
  const file = parseSftFile(parseYaml(readFileSync(args.config, "utf8")) ?? {}, args.config);
  const train: TrainSettings = { ...file.train, ...(args.steps ? { steps: args.steps } : {}), ...(args.seed === undefined ? {} : { seed: args.seed }) };
  const kernels = getKernels();

  // data, in the chat format of the init directory (its tokenizer and template), else the bundled Qwen3
  const initDir = args.init ? checkpointDir(args.init) : undefined;
  const format = loadChatFormat(initDir);
  const tok = format.tokenizer;
  // each conversation's examples in a seeded order (shuffling indices draws as shuffling the chats)
  const perChat = fileChatExamples(args.data, format);
  const order = new Rng(train.seed ^ 0x5eed).shuffle(perChat.map((_, i) => i));
  const nHeld = order.length >= 2 && train.held_out > 0 ? Math.max(1, Math.round(order.length * train.held_out)) : 0;
  const trainEx = order.slice(0, order.length - nHeld).flatMap((i) => perChat[i]);
  const heldEx = order.slice(order.length - nHeld).flatMap((i) => perChat[i]);
  if (trainEx.length === 0) throw new Error(`${args.data}: no assistant turns to train on`);

  // model: from a checkpoint, or fresh over the corpus's compact vocabulary
  let model: Model;
  let restored: { optimizer: AdamW | null; step: number } = { optimizer: null, step: 0 };
  if (args.init) {
    // The checkpoint written at the end carries this directory's tokenizer files (model/checkpoint.ts).
    const ck = loadCheckpoint(initDir!, { kernels });
    model = ck.model;
    if (args.resume) {
      if (!ck.optimizer || !ck.state) throw new Error(`--resume: ${args.init} has no optimizer.safetensors / trainer_state.json`);
      restored = { optimizer: ck.optimizer, step: ck.state.step };
    }
    const unknown = new Set(trainEx.flatMap((e) => e.tokens.filter((t) => !model.vocab.has(t))));
    if (unknown.size > 0)
      log(`warning: ${unknown.size} token ids of the corpus are outside the checkpoint's vocabulary; they read as the unknown row and are not trained as targets`);
  } else {
    const ids = buildVocabMap([...tok.addedTokens.values(), ...trainEx.flatMap((e) => e.tokens), ...heldEx.flatMap((e) => e.tokens)]);
    const cfg: ModelConfig = parseModelConfig({ ...demoModelConfig, ...file.model, vocab_size: ids.length + 1, gymrl_vocab_map: ids });
    model = new Model(cfg, { kernels, seed: train.seed });
  }
  const maxLen = model.dims.maxPos;
  const cut = [...trainEx, ...heldEx].filter((e) => e.tokens.length > maxLen).length;
  if (cut > 0) log(`warning: ${cut} examples are longer than max_position_embeddings (${maxLen}) and are cut to it`);
  const adamw = { beta1: train.beta1, beta2: train.beta2, weightDecay: train.weight_decay, gradClip: train.grad_clip };
  const optimizer = restored.optimizer ?? new AdamW(model, adamw);
  Object.assign(optimizer.cfg, adamw);
  const hyper: SftHyper = {
    lr: train.lr,
    warmupSteps: train.warmup_steps,
    totalSteps: train.steps,
    schedule: train.schedule,
    minLrRatio: train.min_lr_ratio,
    decaySteps: train.decay_steps,
    batchTokens: train.batch_tokens,
    seed: train.seed,
    adamw: {},
    evalEvery: train.eval_every,
  };

  // run directory
  mkdirSync(args.out, { recursive: true });
  const metricsPath = join(args.out, "metrics.jsonl");
  if (!args.resume || !existsSync(metricsPath)) writeFileSync(metricsPath, "");
  const trainTokens = trainEx.reduce((a, e) => a + e.tokens.length, 0);
  writeFileSync(
    join(args.out, "run.json"),
    JSON.stringify(
      {
        command: "sft",
        data: args.data,
        init: args.init ?? null,
        resume_step: args.resume ? restored.step : null,
        kernels: kernels.name,
        train,
        model: { ...model.config, gymrl_vocab_map: undefined, compact_vocab_size: model.vocab.size },
        num_params: model.numParams,
        examples: { train: trainEx.length, held_out: heldEx.length, train_tokens: trainTokens },
      },
      null,
      2,
    ) + "\n",
  );
  log(
    `sft: ${trainEx.length} train / ${heldEx.length} held-out examples (${trainTokens} tokens), ` +
      `${(model.numParams / 1e6).toFixed(2)}M params, vocab ${model.vocab.size}, kernels ${kernels.name}`,
  );
  const initialEvalLoss = heldEx.length > 0 ? evalLoss(model, heldEx, train.batch_tokens) : NaN;
  if (heldEx.length > 0) log(`step 0 | eval_loss ${initialEvalLoss.toFixed(4)}`);

  if (restored.step > 0) log(`resuming at step ${restored.step}`);
  const last = trainSft(model, trainEx, heldEx, hyper, {
    optimizer,
    startStep: restored.step,
    maxSeconds: args.maxSeconds,
    onStep: (m) => {
      appendFileSync(metricsPath, JSON.stringify(m) + "\n");
      if (train.save_every > 0 && m.step % train.save_every === 0 && m.step < train.steps)
        saveCheckpoint(join(args.out, `checkpoint-${m.step}`), model, optimizer, { step: m.step, loss: m.loss, eval_loss: m.eval_loss ?? null });
      if (m.step % train.log_every === 0 || m.step === train.steps || m.eval_loss !== undefined)
        log(
          `step ${m.step}/${train.steps} | loss ${m.loss.toFixed(4)}` +
            (m.eval_loss !== undefined ? ` | eval_loss ${m.eval_loss.toFixed(4)}` : "") +
            ` | lr ${m.lr.toExponential(2)} | ${formatRate(m.tokens_per_s)} tok/s | elapsed ${formatDuration(m.elapsed_s)} | eta ${formatDuration(m.eta_s)}`,
        );
    },
  });
  const ckpt = join(args.out, "checkpoint");
  saveCheckpoint(ckpt, model, optimizer, { step: last.step, loss: last.loss, eval_loss: last.eval_loss ?? null });
  log(`checkpoint: ${ckpt}`);
  return { last, initialEvalLoss, model };
}
