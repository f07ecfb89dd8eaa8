/** Where test inputs live: gymrl's repository and the shared NeMo Gym sample data beside it. */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(fileURLToPath(new URL("../../../", import.meta.url)));

/** shared/data/nemo-gym: $GYMRL_SHARED_DIR, else shared/ beside the checkout, else /work/shared. */
export const NEMO_GYM_DATA = [process.env.GYMRL_SHARED_DIR, resolve(REPO, "../shared"), "/work/shared"]
  .filter((d): d is string => !!d)
  .map((d) => resolve(d, "data/nemo-gym"))
  .find((d) => existsSync(d)) ?? resolve(REPO, "../shared/data/nemo-gym");

export const EXAMPLE_CONFIG = resolve(REPO, "src/environments/example_single_tool_call/configs/example_single_tool_call.yaml");
export const VLLM_CONFIG = resolve(REPO, "src/gym/configs/vllm_model_for_training.yaml");
