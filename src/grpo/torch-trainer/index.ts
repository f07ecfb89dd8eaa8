/**
 * @module grpo/torch-trainer: the PolicyTrainer that runs on PyTorch (python/gymrl_torch), data-
 * parallel over N ranks, driven over rank 0's HTTP control API. `TorchTrainer.start(options)`.
 */
export { TorchTrainer, TorchRequestError, type ForwardBackwardResult, type TorchTrainerOptions } from "./client.ts";
export { findTorchPython, launchRanks, TorchWorkerError, PYTHON_PACKAGE_ROOT, type ReadyInfo, type TorchLaunchOptions, type TorchPython } from "./launcher.ts";
export { lossConfigToWire } from "./wire.ts";
