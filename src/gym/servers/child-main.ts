/**
 * The entry file of a TypeScript Gym server child: `node --import tsx child-main.ts <module>`,
 * where <module> default-exports a ServerDefinition (see registry.ts). Runs it from NeMo Gym's
 * environment variables; any start-up failure is printed and exits non-zero, so the launcher can
 * report it with this output.
 */
import { pathToFileURL } from "node:url";
import type { ServerDefinition } from "./define.ts";
import { runServerFromEnv } from "./define.ts";

const modulePath = process.argv[2];
try {
  if (!modulePath) throw new Error("usage: child-main.ts <server module>");
  const mod = (await import(pathToFileURL(modulePath).href)) as { default?: ServerDefinition };
  if (!mod.default || typeof mod.default.routes !== "function") {
    throw new Error(`${modulePath} does not default-export a ServerDefinition`);
  }
  await runServerFromEnv(mod.default);
} catch (e) {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
}
