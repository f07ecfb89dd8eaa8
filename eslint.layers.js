/**
 * The layer table of ARCHITECTURE.md as lint rules (eslint-plugin-boundaries): which folder of src/
 * may import which. Arrows point down only, and a folder also keeps out of what its row's "must not
 * know about" column names. `npm run lint` fails on an import against this table;
 * test/lint/layers.test.ts proves it does.
 *
 *   cli → view, policy → grpo → sft → rollout → gym, environments → server → engine → model → tensor, tokenizer
 *
 * Exceptions from the straight chain, each from ARCHITECTURE.md: gym knows neither the model nor the
 * engine; environments know neither the trainer nor the model; rollout knows no model internals;
 * the engine knows no HTTP and no chat templates (tokenizer); the model knows nothing above tensor.
 * Anything under src/engine (remote engines included) is the engine layer. A new folder of src/
 * must be added here (boundaries/no-unknown-files), so the table cannot silently fall behind.
 * Unit tests (*.test.ts) keep their folder's rules, and may also use the helpers under test/.
 */
import boundaries from "eslint-plugin-boundaries";

/** Each layer and the layers it may import (besides itself). */
export const layers = {
  cli: ["view", "policy", "grpo", "sft", "rollout", "gym", "environments", "server", "engine", "model", "tensor", "tokenizer"],
  // the run viewer reads the files a run writes (grpo's formats); only the CLI starts it
  view: ["grpo"],
  policy: ["grpo", "sft", "rollout", "gym", "environments", "server", "engine", "model", "tensor", "tokenizer"],
  // grpo's demo runs the SFT warm start, so sft sits just below grpo (never the other way round)
  grpo: ["sft", "rollout", "gym", "environments", "server", "engine", "model", "tensor", "tokenizer"],
  sft: ["rollout", "gym", "environments", "server", "engine", "model", "tensor", "tokenizer"],
  rollout: ["gym", "environments", "server", "tokenizer"],
  gym: ["server", "tokenizer"],
  environments: ["gym", "server", "tokenizer"],
  server: ["engine", "model", "tensor", "tokenizer"],
  engine: ["model", "tensor"],
  model: ["tensor"],
  tensor: [],
  tokenizer: [],
};

export default [
  {
    files: ["src/**/*.{ts,js,mjs}", "bench/**/*.ts", "test/**/*.ts"],
    plugins: { boundaries },
    settings: {
      "boundaries/elements": [
        ...Object.keys(layers).map((type) => ({ type, pattern: `src/${type}` })),
        { type: "bench", pattern: "bench" },
        { type: "tests", pattern: "test" },
      ],
      "boundaries/files": [{ category: "unit-test", pattern: "**/*.test.ts" }],
      "import/resolver": { node: { extensions: [".ts", ".js", ".mjs"] } },
    },
    rules: {
      "boundaries/dependencies": [
        "error",
        {
          default: "disallow",
          policies: [
            ...Object.entries(layers).map(([type, below]) => ({
              from: { element: { type } },
              allow: { to: { element: { types: { anyOf: [type, ...below] } } } },
            })),
            // benchmarks measure the library, not the command line
            {
              from: { element: { type: "bench" } },
              allow: { to: { element: { types: { anyOf: ["bench", ...Object.keys(layers).filter((t) => t !== "cli")] } } } },
            },
            { from: { element: { type: "tests" } }, allow: { to: { element: { types: { anyOf: ["tests", ...Object.keys(layers)] } } } } },
            // a unit test beside the code may use the shared test helpers of test/ (never shipped code)
            { from: { file: { categories: "unit-test" } }, allow: { to: { element: { type: "tests" } } } },
          ],
        },
      ],
    },
  },
  { files: ["src/**/*.{ts,js,mjs}"], plugins: { boundaries }, rules: { "boundaries/no-unknown-files": "error" } },
];
