/**
 * The recipe's backend sections: which trainer computes the gradients and which engine generates.
 *
 *   trainer:    { backend: embedded | torch, torch: { nproc_per_node, launcher, ... } }
 *   generation: { backend: embedded | vllm | sglang, urls: [...], replicas: N }
 *
 * `generation.urls` names running servers; with `replicas: N` and no urls the run starts N
 * `gymrl serve` processes speaking the chosen dialect (tests, and a pool on one machine).
 */
import { z } from "zod";

export const TrainerBackendSchema = z.strictObject({
  backend: z.enum(["embedded", "torch"]).default("embedded"),
  torch: z
    .strictObject({
      /** ranks on this host (DDP over the global batch) */
      nproc_per_node: z.number().int().positive().default(1),
      /** "spawn": gymrl sets the torchrun environment itself (works where torchrun is broken); "torchrun" */
      launcher: z.enum(["spawn", "torchrun"]).default("spawn"),
      /** multi-host: node count and this node's rank, rendezvous host:port (torchrun's --nnodes, --node_rank, --rdzv-endpoint) */
      nnodes: z.number().int().positive().default(1),
      node_rank: z.number().int().nonnegative().default(0),
      rdzv_endpoint: z.string().optional(),
      /** "ddp" (default) or "fsdp" (where the installed torch supports it) */
      strategy: z.enum(["ddp", "fsdp"]).default("ddp"),
      /** the interpreter (default: GYMRL_PYTHON, else the first python3 that imports torch) */
      python: z.string().optional(),
      /** seconds a control call may take before the worker is declared hung */
      call_timeout_s: z.number().positive().default(600),
    })
    .prefault({}),
});

export const GenerationBackendSchema = z.strictObject({
  backend: z.enum(["embedded", "vllm", "sglang"]).default("embedded"),
  /** base URLs of running servers (http://host:port), one per replica */
  urls: z.array(z.string().url()).default([]),
  /** with no urls: start this many `gymrl serve` replicas on this machine */
  replicas: z.number().int().positive().default(1),
  /** where refit writes the weights the engines load (default: the run directory's refit/) */
  weights_dir: z.string().optional(),
  /** per-request timeout against a replica, seconds */
  request_timeout_s: z.number().positive().default(300),
});

export type TrainerBackendSpec = z.infer<typeof TrainerBackendSchema>;
export type GenerationBackendSpec = z.infer<typeof GenerationBackendSchema>;
