// Worker entry when the engine runs from TypeScript sources (tsx, vitest): Node 20 does not apply
// `--import tsx` from a worker's execArgv to its entry, so register the tsx loader in this thread
// first, then run worker.ts. A built engine (dist, .js) starts worker.js directly.
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
