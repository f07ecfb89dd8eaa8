/**
 * Worker-thread entry of the embedded engine: serves the host (host.ts) on the parent port.
 * Started by embedded-engine.ts with the EngineInit as workerData.
 */
import { parentPort, workerData } from "node:worker_threads";

import type { EngineInit, FromHost, Port, ToHost } from "./protocol.ts";
import { serveEngine } from "./host.ts";

if (!parentPort) throw new Error("src/engine/worker.ts is a worker-thread entry; start it with createEmbeddedEngine()");
serveEngine(parentPort as unknown as Port<ToHost, FromHost>, workerData as EngineInit);
