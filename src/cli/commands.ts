/**
 * The registry of gymrl subcommands. Each subcommand lives in its own file and is imported lazily,
 * so `gymrl --help` stays fast and one command's dependencies never load for another.
 */
import type { CommandDef } from "citty";

type Lazy = () => Promise<CommandDef>;

export const subCommands: Record<string, Lazy> = {};
