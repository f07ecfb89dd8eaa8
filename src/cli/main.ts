/** gymrl's command-line entry point. */
import { defineCommand, runMain } from "citty";
import { readFileSync } from "node:fs";
import { subCommands } from "./commands.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
  description: string;
};

export const main = defineCommand({
  meta: { name: "gymrl", version: pkg.version, description: pkg.description },
  subCommands,
});

await runMain(main);
