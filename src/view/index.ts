/** @module The run viewer: `startViewServer({ runs })` serves one page over run directories. */
export { startViewServer, type ViewServer, type ViewServerOptions } from "./server.ts";
export { readMetrics, readRollouts, readSteps, type MetricsRead, type RolloutsRead, type StepsRead } from "./run-data.ts";
export { writeTensorboard, tensorboardEvents, TENSORBOARD_DIR, EVENTS_FILE } from "./tensorboard.ts";
