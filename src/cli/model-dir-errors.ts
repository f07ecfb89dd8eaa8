/** A broken model directory is the user's to fix: one line naming the file and field, no stack. */
import { CheckpointError } from "../model/index.ts";
import { TokenizerError } from "../tokenizer/index.ts";

/** Runs `fn`; a TokenizerError, CheckpointError or ServeOptionsError prints `gymrl <command>: <message>` and exits 1. */
export async function reportingModelDirErrors<T>(command: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    // ServeOptionsError by name: importing src/server here would load the server stack into `gymrl sft`
    if (e instanceof TokenizerError || e instanceof CheckpointError || (e as Error)?.name === "ServeOptionsError") {
      console.error(`gymrl ${command}: ${(e as Error).message}`);
      process.exit(1);
    }
    throw e;
  }
}
