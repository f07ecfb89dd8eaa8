/**
 * The remote engine as a recipe names it (`generation: {backend: vllm | sglang, urls, replicas}`):
 * a pool over the given server URLs, or, with no URLs, over `replicas` local `gymrl serve`
 * processes started on the initial checkpoint. One call for the policy backend to make; `close()`
 * closes the pool and stops the processes it started.
 */
import { startLocalReplicas, type LocalReplicas } from "./local-replicas.ts";
import { createRemoteEnginePool, type RemoteEnginePool, type RemoteEnginePoolOptions } from "./pool.ts";
import type { Dialect } from "./replica.ts";

export interface RemoteEngineSpec {
  dialect: Dialect;
  /** running servers; empty: start `replicas` local gymrl serve processes */
  urls: readonly string[];
  replicas?: number;
  /** the checkpoint local replicas serve (the run's initial weights) */
  modelDir: string;
  /** per-attempt request timeout, seconds */
  requestTimeoutS?: number;
  /** local replicas: `--kernels`, `--slots`, `--max-model-len` */
  kernels?: "auto" | "native" | "reference";
  slots?: number;
  maxModelLen?: number;
  /** the pool's version of the initial weights (a resumed run's step) */
  initialVersion?: number;
  /** more pool options (probe interval, session capacity, ...) */
  pool?: Partial<RemoteEnginePoolOptions>;
}

export interface RunningRemoteEngine {
  engine: RemoteEnginePool;
  /** one line for logs, e.g. "sglang pool of 2 local gymrl serve replicas (http://127.0.0.1:...)" */
  label: string;
  /** the local processes, when this call started them */
  local: LocalReplicas | null;
  close(): Promise<void>;
}

export async function startRemoteEngine(spec: RemoteEngineSpec): Promise<RunningRemoteEngine> {
  const local = spec.urls.length === 0 ? await startLocalReplicas({ modelDir: spec.modelDir, count: spec.replicas ?? 1, kernels: spec.kernels, slots: spec.slots, maxModelLen: spec.maxModelLen }) : null;
  const urls = local ? local.urls : spec.urls;
  let engine: RemoteEnginePool;
  try {
    engine = await createRemoteEnginePool({
      ...spec.pool,
      dialect: spec.dialect,
      urls,
      ...(spec.requestTimeoutS !== undefined ? { requestTimeoutMs: spec.requestTimeoutS * 1000 } : {}),
      ...(spec.initialVersion !== undefined ? { initialVersion: spec.initialVersion } : {}),
    });
  } catch (e) {
    await local?.stop();
    throw e;
  }
  const where = local ? `${urls.length} local gymrl serve replica${urls.length === 1 ? "" : "s"}` : `${urls.length} server${urls.length === 1 ? "" : "s"}`;
  return {
    engine,
    label: `${spec.dialect} pool of ${where} (${urls.join(", ")})`,
    local,
    close: async () => {
      await engine.close();
      await local?.stop();
    },
  };
}
