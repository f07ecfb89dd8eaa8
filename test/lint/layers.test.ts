/**
 * The layer table is enforced: `npm run lint` (eslint with eslint.layers.js) fails on an import
 * that runs against ARCHITECTURE.md's table. Probe sources are linted from stdin under a path inside
 * the layer, so nothing is written into the shared tree.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { describe, expect, test } from "vitest";
import { layers } from "../../eslint.layers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const eslint = new ESLint({ cwd: root });

async function violations(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: `${root}${file}` });
  return r.messages.filter((m) => m.ruleId?.startsWith("boundaries/")).map((m) => m.message);
}

const probe = (from: string) => `import * as m from "${from}";\nexport const x = m;\n`;

describe("layer table (eslint-plugin-boundaries)", () => {
  test("the lint command exits non-zero on src/grpo importing src/cli", () => {
    const r = spawnSync(
      process.execPath,
      [`${root}node_modules/eslint/bin/eslint.js`, "--stdin", "--stdin-filename", "src/grpo/layer-probe.ts"],
      { cwd: root, input: probe("../cli/commands.ts"), encoding: "utf8" },
    );
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/boundaries\/dependencies/);
    expect(r.stdout).toMatch(/"grpo" to elements of type "cli"/);
  }, 60_000);

  test.each([
    ["src/grpo/p.ts", "../cli/commands.ts", "grpo", "cli"],
    ["src/sft/p.ts", "../grpo/index.ts", "sft", "grpo"],
    ["src/engine/p.ts", "../server/serve.ts", "engine", "server"],
    ["src/engine/p.ts", "../tokenizer/index.ts", "engine", "tokenizer"], // no chat templates
    ["src/gym/p.ts", "../model/model.ts", "gym", "model"],
    ["src/gym/p.ts", "../engine/index.ts", "gym", "engine"],
    ["src/server/p.ts", "../gym/client.ts", "server", "gym"],
    ["src/rollout/p.ts", "../model/model.ts", "rollout", "model"],
    ["src/model/p.ts", "../tokenizer/index.ts", "model", "tokenizer"],
    ["src/tensor/p.ts", "../model/model.ts", "tensor", "model"],
    ["bench/p.ts", "../src/cli/sft.ts", "bench", "cli"],
    ["src/server/p.ts", "../../test/support/openai-server.ts", "server", "tests"], // shipped code never
    ["src/server/p.test.ts", "../gym/client.ts", "server", "gym"], // a unit test keeps its layer's rules
  ])("%s importing %s is rejected", async (file, target, from, to) => {
    const v = await violations(file, probe(target));
    expect(v.length).toBe(1);
    expect(v[0]).toContain(`"${from}" to elements of type "${to}"`);
  }, 30_000);

  test.each([
    ["src/cli/p.ts", "../grpo/index.ts"],
    ["src/grpo/p.ts", "../sft/index.ts"],
    ["src/sft/p.ts", "../rollout/jsonl.ts"],
    ["src/server/p.ts", "../engine/index.ts"],
    ["src/engine/p.ts", "../model/model.ts"],
    ["src/model/p.ts", "../tensor/index.ts"],
    ["bench/p.ts", "../src/sft/index.ts"],
    ["test/p.ts", "../src/cli/commands.ts"],
    ["src/server/p.test.ts", "../../test/support/openai-server.ts"], // a unit test may use the shared helpers
  ])("%s importing %s is allowed", async (file, target) => {
    expect(await violations(file, probe(target))).toEqual([]);
  }, 30_000);

  test("a file in a folder of src/ that the table does not name is an error", async () => {
    const v = await violations("src/unlisted/p.ts", "export const x = 1;\n");
    expect(v.length).toBe(1);
  }, 30_000);

  test("every folder of src/ is a layer of the checker and a row of ARCHITECTURE.md", () => {
    const arch = readFileSync(`${root}ARCHITECTURE.md`, "utf8");
    for (const d of readdirSync(`${root}src`, { withFileTypes: true }).filter((e) => e.isDirectory())) {
      expect(Object.keys(layers)).toContain(d.name);
      expect(arch).toContain(`| \`src/${d.name}/\` |`);
    }
  });
});
