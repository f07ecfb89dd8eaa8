/**
 * Kernel selection: `getKernels()` returns the native (OpenBLAS) kernels when the addon is built
 * and loads, else the TypeScript reference, saying so once on stderr. $GYMRL_KERNELS=reference or
 * native forces a choice (native then throws if the addon is unavailable). The kernels themselves
 * live in reference.ts and native.ts; the interface in kernels.ts.
 */
import type { Kernels } from "./kernels.ts";
import { createNativeKernels, loadNativeAddon, type NativeKernels } from "./native.ts";
import { referenceKernels } from "./reference.ts";

export type { FloatArray, Kernels } from "./kernels.ts";
export type { NativeKernels } from "./native.ts";
export { referenceKernels } from "./reference.ts";

export type KernelChoice = "native" | "reference";

export interface GetKernelsOptions {
  /** Which kernels to use when $GYMRL_KERNELS is not set; default "native" (falls back if absent). */
  prefer?: KernelChoice;
}

let native: NativeKernels | null | undefined;
let warned = false;

/** The native kernels, or null when the addon is unavailable (created once per process). */
export function getNativeKernels(): NativeKernels | null {
  if (native === undefined) native = createNativeKernels(referenceKernels);
  return native;
}

/** Why the native kernels are unavailable, or null when they load. */
export function nativeUnavailableReason(): string | null {
  const load = loadNativeAddon();
  return load.kind === "ok" ? null : load.reason;
}

function forcedChoice(): KernelChoice | undefined {
  const env = process.env.GYMRL_KERNELS;
  if (env === undefined || env === "") return undefined;
  if (env === "native" || env === "reference") return env;
  throw new Error(`GYMRL_KERNELS must be "native" or "reference", got "${env}"`);
}

/**
 * The kernels to compute with. $GYMRL_KERNELS overrides `prefer`. When native is preferred but
 * unavailable, returns the reference kernels and writes one line to stderr (once per process).
 */
export function getKernels(options: GetKernelsOptions = {}): Kernels {
  const forced = forcedChoice();
  const choice = forced ?? options.prefer ?? "native";
  if (choice === "reference") return referenceKernels;
  const k = getNativeKernels();
  if (k) return k;
  const reason = nativeUnavailableReason() ?? "unknown";
  if (forced === "native") {
    throw new Error(`GYMRL_KERNELS=native but the native kernels are unavailable: ${reason}. Run: npm run build:native`);
  }
  if (!warned) {
    warned = true;
    process.stderr.write(
      `gymrl: native kernels unavailable (${reason}); using the slower TypeScript reference kernels. Build them with: npm run build:native\n`,
    );
  }
  return referenceKernels;
}
