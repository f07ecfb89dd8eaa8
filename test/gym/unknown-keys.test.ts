/**
 * gymrl's own config schemas reject unknown keys, naming the file, the key path and the nearest
 * known key; every YAML in configs/ still loads under them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { editDistance, formatConfigIssues, knownKeysAt, nearestKey } from "../../src/gym/config/unknown-keys.ts";
import { loadRecipe } from "../../src/grpo/recipe.ts";
import { parseSftFile } from "../../src/sft/index.ts";
import { DEFAULT_SFT_PHASES } from "../../src/grpo/demo.ts";
import { REPO } from "./helpers/paths.ts";

/** Edit distance by brute force over all alignments (exponential; short strings only). */
function slowDistance(a: string, b: string): number {
  if (a === "") return b.length;
  if (b === "") return a.length;
  let best = Math.min(slowDistance(a.slice(1), b) + 1, slowDistance(a, b.slice(1)) + 1, slowDistance(a.slice(1), b.slice(1)) + (a[0] === b[0] ? 0 : 1));
  if (a.length > 1 && b.length > 1 && a[0] === b[1] && a[1] === b[0]) best = Math.min(best, slowDistance(a.slice(2), b.slice(2)) + 1);
  return best;
}

describe("nearest key", () => {
  test("edit distance agrees with a brute-force recursion, swaps counting one", () => {
    const words = ["", "a", "ab", "ba", "abc", "acb", "top_p", "top_k", "seed", "sed", "lr", "steps"];
    for (const a of words) for (const b of words) expect(editDistance(a, b), `${a} / ${b}`).toBe(slowDistance(a, b));
    expect(editDistance("optimiser", "optimizer")).toBe(1);
  });

  test("suggests only a plausible typo", () => {
    const known = ["use_dynamic_sampling", "dynamic_sampling_max_gen_batches", "batch_multiplier", "overlong_filtering"];
    expect(nearestKey("use_dynamic_samplng", known)).toBe("use_dynamic_sampling");
    expect(nearestKey("dynamic_sampling_max_batches", known)).toBe("dynamic_sampling_max_gen_batches");
    expect(nearestKey("Overlong_Filtering", known)).toBe("overlong_filtering");
    expect(nearestKey("temperature", known)).toBeUndefined();
  });

  test("known keys at a path step through defaults, arrays and unions", () => {
    const S = z.strictObject({
      a: z.strictObject({ x: z.number().default(1), y: z.number().optional() }).prefault({}),
      list: z.array(z.union([z.string(), z.strictObject({ gen: z.string(), n: z.number() })])),
    });
    expect(knownKeysAt(S, [])).toEqual(["a", "list"]);
    expect(knownKeysAt(S, ["a"])).toEqual(["x", "y"]);
    expect(knownKeysAt(S, ["list", 3])).toEqual(["gen", "n"]);
    expect(knownKeysAt(S, ["nope"])).toBeUndefined();
    const r = S.safeParse({ a: { z: 1 }, list: [{ gen: "g", n: 1, m: 2 }], lst: [] });
    expect(r.success).toBe(false);
    expect(formatConfigIssues(S, r.error!.issues, { source: "f.yaml", overrides: ["a.z=1"] })).toEqual([
      "override 'a.z=1': unknown key 'a.z' (did you mean 'a.x'?)",
      "f.yaml: unknown key 'list.0.m' (did you mean 'list.0.n'?)",
      "f.yaml: unknown key 'lst' (did you mean 'list'?)",
    ]);
  });
});

describe("strict gymrl configs", () => {
  test("every YAML in configs/ loads (recipes as recipes, the rest as SFT files)", () => {
    const dir = join(REPO, "configs");
    const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const path = join(dir, f);
      if (f.startsWith("grpo-")) expect(() => loadRecipe(path), f).not.toThrow();
      else expect(() => parseSftFile(parseYaml(readFileSync(path, "utf8")), path), f).not.toThrow();
    }
    // the demo's warm-start phases are among them
    for (const phase of Object.values(DEFAULT_SFT_PHASES).flat()) expect(files, phase).toContain(phase.replace("configs/", ""));
  });

  test("an SFT file with a misspelt key names the file, the key and the nearest one", () => {
    expect(() => parseSftFile({ train: { warmup_step: 5 } }, "sft.yaml")).toThrow("sft.yaml: unknown key 'train.warmup_step' (did you mean 'train.warmup_steps'?)");
    expect(() => parseSftFile({ trian: {} }, "sft.yaml")).toThrow("sft.yaml: unknown key 'trian' (did you mean 'train'?)");
    // model: is config.json, open like config.json
    expect(parseSftFile({ model: { anything_hf_writes: 1 } }).model).toEqual({ anything_hf_writes: 1 });
  });
});
