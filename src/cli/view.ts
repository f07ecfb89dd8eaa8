/**
 * `gymrl view RUN_DIR [RUN_DIR2 ...] [--port N] [--host H]`: the run viewer, a local web page with
 * a run's curves and the trajectories each step trained on, following the run live; two or more
 * directories overlay their curves. `--tensorboard` also keeps RUN/tensorboard/ (event files) up to
 * date with each run's metrics while it runs, for `tensorboard --logdir`. Ctrl-C stops it.
 */
import { defineCommand } from "citty";
import { statSync } from "node:fs";
import { join } from "node:path";
import { startViewServer, writeTensorboard } from "../view/index.ts";

const VALUE_FLAGS = new Set(["--port", "--host"]);

/** The run directories: the positional arguments (flags and their values skipped). */
export function runDirsOf(rawArgs: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const a = rawArgs[i];
    if (a.startsWith("-")) {
      if (VALUE_FLAGS.has(a)) i++; // --port 8080
      continue;
    }
    out.push(a);
  }
  return out;
}

export default defineCommand({
  meta: { name: "view", description: "Open a run (or several, overlaid) in the browser: curves, trajectories token by token, live" },
  args: {
    run: { type: "positional", description: "run directory (more than one: curves overlaid)", required: true },
    port: { type: "string", description: "port (default: a free one)" },
    host: { type: "string", description: "address to bind (default 127.0.0.1)" },
    tensorboard: { type: "boolean", description: "also write RUN/tensorboard/ event files from metrics.jsonl, and keep them current" },
  },
  async run({ args, rawArgs }) {
    const port = args.port === undefined ? 0 : Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected an integer 0..65535, got "${args.port}"`);
    const server = await startViewServer({ runs: runDirsOf(rawArgs), port, host: args.host });
    console.log(`gymrl view: ${server.url}`);
    let tb: NodeJS.Timeout | null = null;
    if (args.tensorboard) {
      const dirs = runDirsOf(rawArgs);
      const seen = new Map<string, number>();
      const sync = () => {
        for (const d of dirs) {
          let size = -1;
          try {
            size = statSync(join(d, "metrics.jsonl")).size;
          } catch {
            continue; // no metrics yet: the page says so
          }
          if (seen.get(d) === size) continue;
          seen.set(d, size);
          try {
            const path = writeTensorboard(d);
            if (path && !tb) console.log(`gymrl view: TensorBoard events in ${path}`);
          } catch (e) {
            console.error(`gymrl view: --tensorboard: ${d}: ${(e as Error).message}`);
          }
        }
      };
      sync();
      tb = setInterval(sync, 2000);
    }
    const stop = () => {
      if (tb) clearInterval(tb);
      void server.close().then(() => process.exit(0));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  },
});
