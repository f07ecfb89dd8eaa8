/**
 * @module model: the Llama/Qwen3-family transformer (config, flat parameters, forward/backward over
 * packed batches, KV-cache prefill and batched decode), AdamW, safetensors checkpoints and the SFT
 * loop. Computes through a `Kernels` object (src/tensor); knows nothing of HTTP, Gym or RL.
 */
export { type Dims, type ModelConfig, ModelConfigSchema, configToJson, dimsOf, parseModelConfig } from "./config.ts";
export { DEMO_VOCAB_IDS, demoConfigFor, demoModelConfig } from "./default-config.ts";
export { attentionForwardFlops, denseForwardFlopsPerToken, trainFlops } from "./flops.ts";
export { KVCache, type KVCopy } from "./kv-cache.ts";
export { type ForwardResult, Model, type ModelOptions, type PackedBatch, packBatch } from "./model.ts";
export { AdamW, type AdamWConfig, type LrSchedule, type StepStats, defaultAdamW, learningRate } from "./optimizer.ts";
export { type DType, type ParamKind, type ParamSpec, type ParamTensors, allocFloat } from "./params.ts";
export { Rng } from "./rng.ts";
export {
  CheckpointError,
  HF_AUX_FILES,
  type LoadOptions,
  type LoadedCheckpoint,
  type SaveOptions,
  type TrainerState,
  checkModelDir,
  loadCheckpoint,
  loadModel,
  modelSourceDir,
  saveCheckpoint,
  setModelSourceDir,
} from "./checkpoint.ts";
export { parseSafetensors, readFloatTensor, serializeSafetensors } from "./safetensors.ts";
export { type SftExample, type SftHyper, type StepMetrics, evalLoss, packExamples, trainSft } from "./sft.ts";
export { Vocab, buildVocabMap } from "./vocab.ts";
