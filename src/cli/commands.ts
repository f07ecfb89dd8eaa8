/**
 * The registry of gymrl subcommands. Each subcommand lives in its own file and is imported lazily,
 * so `gymrl --help` stays fast and one command's dependencies never load for another.
 */
import type { CommandDef } from "citty";

// citty's CommandDef is invariant in its args type, so the registry holds commands of any args.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Lazy = () => Promise<CommandDef<any>>;

export const subCommands: Record<string, Lazy> = {
  demo: () => import("./demo.ts").then((m) => m.default),
  "export-gguf": () => import("./export-gguf.ts").then((m) => m.default),
  gym: () => import("./gym.ts").then((m) => m.default),
  rollout: () => import("./rollout.ts").then((m) => m.default),
  serve: () => import("./serve.ts").then((m) => m.default),
  sft: () => import("./sft.ts").then((m) => m.default),
  train: () => import("./train.ts").then((m) => m.default),
  view: () => import("./view.ts").then((m) => m.default),
};
