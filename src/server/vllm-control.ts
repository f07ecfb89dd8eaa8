/**
 * vLLM's dev-mode control routes on `gymrl serve`, so a pool of gymrl servers is driven exactly as
 * a pool of vLLM servers (src/engine/remote/vllm-client.ts):
 *   POST /pause?mode=abort|wait|keep   → {"status": "paused"}
 *   POST /resume                       → {"status": "resumed"}
 *   GET  /is_paused                    → {"is_paused": bool}
 *   POST /reset_prefix_cache           → 200, empty
 *   POST /init_weight_transfer_engine  {"init_info": {...}}
 *   POST /start_weight_update
 *   POST /update_weights               {"update_info": {"path": "/abs/dir"}}   (the "disk" backend)
 *   POST /finish_weight_update
 * Per https://docs.vllm.ai/en/latest/training/async_rl/ and
 * https://docs.vllm.ai/en/latest/training/weight_transfer/disk/ (vllm/entrypoints/serve/dev/rlhf).
 * Errors are vLLM's OpenAI-shaped 400s. /reset_prefix_cache does no work: this engine's prefix
 * cache never serves keys and values of older weights (a weight update invalidates it).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { EngineControl } from "./engine-control.ts";
import { badRequest } from "./errors.ts";
import type { Handler } from "./http.ts";

const PAUSE_MODES = new Set(["abort", "wait", "keep"]);

/** What vLLM's disk backend checks of a checkpoint path; null when it is fine. */
export function checkCheckpointDir(path: string): string | null {
  if (!isAbsolute(path)) return `${JSON.stringify(path)} is not an absolute path`;
  if (!existsSync(path) || !statSync(path).isDirectory()) return `${path} is not a directory`;
  if (!readdirSync(path).some((f) => f.endsWith(".safetensors"))) return `${path} contains no safetensors files`;
  return null;
}

export function vllmControlRoutes(control: EngineControl): Record<string, Handler> {
  // one weight-update session at a time, as vLLM's disk backend: start → update (once) → finish
  let initialized = false;
  let session: "idle" | "started" | "loaded" = "idle";
  const empty: Handler = ({ res }) => {
    res.writeHead(200, { "content-length": 0 });
    res.end();
    return undefined;
  };
  return {
    "POST /pause": async ({ req }) => {
      const q = new URL(req.url ?? "/", "http://x").searchParams;
      const mode = q.get("mode") ?? (q.get("wait_for_inflight_requests") === "true" ? "wait" : "abort");
      if (!PAUSE_MODES.has(mode)) throw badRequest(`mode must be one of abort, wait, keep; got ${JSON.stringify(mode)}`, "mode");
      await control.pause(mode as "abort" | "wait" | "keep");
      return { status: "paused" };
    },
    "POST /resume": () => {
      control.resume();
      return { status: "resumed" };
    },
    "GET /is_paused": () => ({ is_paused: control.isPaused }),
    "POST /reset_prefix_cache": empty,
    "POST /init_weight_transfer_engine": ({ body }) => {
      const initInfo = (body as { init_info?: unknown } | undefined)?.init_info;
      if (typeof initInfo !== "object" || initInfo === null || Array.isArray(initInfo)) throw badRequest("Missing 'init_info' in request body (an object; {} for the disk backend)", "init_info");
      initialized = true;
      return { message: "Weight transfer initialized" };
    },
    "POST /start_weight_update": () => {
      if (!initialized) throw badRequest("the weight transfer engine is not initialized: POST /init_weight_transfer_engine first");
      if (session !== "idle") throw badRequest("A shared-disk weight update is already active");
      session = "started";
      return { message: "Weight update started" };
    },
    "POST /update_weights": async ({ body }) => {
      const info = (body as { update_info?: unknown } | undefined)?.update_info;
      if (typeof info !== "object" || info === null) throw badRequest("Missing 'update_info' in request body", "update_info");
      const path = (info as { path?: unknown }).path;
      if (typeof path !== "string" || path === "") throw badRequest("update_info.path must be a non-empty absolute local directory", "update_info.path");
      const problem = checkCheckpointDir(path);
      if (problem) throw badRequest(`update_info.path: ${problem}`, "update_info.path");
      if (session === "idle") throw badRequest("start_weight_update must be called before loading a checkpoint");
      if (session === "loaded") throw badRequest("The disk backend accepts exactly one checkpoint per update session");
      try {
        await control.loadCheckpoint(path);
      } catch (e) {
        session = "idle";
        throw badRequest(`loading ${path} failed: ${(e as Error).message}`, "update_info.path");
      }
      session = "loaded";
      return { message: "Weights updated" };
    },
    "POST /finish_weight_update": () => {
      if (session === "idle") throw badRequest("No shared-disk weight update is active");
      const loaded = session === "loaded";
      session = "idle";
      if (!loaded) throw badRequest("No checkpoint was loaded during the shared-disk update session");
      return { message: "Weight update finished" };
    },
  };
}
