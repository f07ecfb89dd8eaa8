/**
 * The policy backend: everything the GRPO loop needs of "the model", behind interfaces only — a
 * trainer (embedded or the PyTorch worker), a generation engine (embedded or a remote vLLM / SGLang
 * pool), the checkpoint's chat format, and `refit()`, the one path by which new weights reach the
 * engine (it bumps the policy version and invalidates the engine's prefix cache).
 */
import type { UpdatableGenerationEngine } from "../../engine/index.ts";
import type { ChatFormat } from "../../tokenizer/index.ts";
import type { PolicyTrainer } from "../trainer.ts";

export interface RefitResult {
  /** the engine's policy version after the refit */
  policyVersion: number;
  /** seconds the refit took beyond the optimizer's own write (pause, export, load, resume) */
  seconds: number;
}

export interface PolicyBackend {
  trainer: PolicyTrainer;
  /** frozen initial weights, when the KL penalty needs reference logprobs */
  reference: PolicyTrainer | null;
  engine: UpdatableGenerationEngine;
  /** the checkpoint's tokenizer, chat template, output parser and stop ids (tokenizer/chat-format.ts) */
  chat: ChatFormat;
  /** One line for logs: which trainer and which engine. */
  description: string;
  /**
   * Makes the trainer's current weights the engine's, after the optimizer steps of a GRPO step.
   * Colocated (shared buffer): the optimizer's own write already did it; this reports the time.
   * Otherwise: the trainer exports an HF safetensors directory and the engine loads it.
   */
  refit(): Promise<RefitResult>;
  close(): Promise<void>;
}
