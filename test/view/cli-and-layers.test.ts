/**
 * `gymrl view` from the command line (a real child process: it prints its URL and serves the run),
 * and the view layer's place in the layer table: only the CLI imports it, and it reads grpo's
 * formats but nothing else of the training stack.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";
import { runDirsOf } from "../../src/cli/view.ts";
import { writeFixtureRun } from "./fixture-run.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("gymrl view (CLI)", () => {
  it("run directories are the positional arguments", () => {
    expect(runDirsOf(["a", "--port", "8080", "b", "--host=0.0.0.0"])).toEqual(["a", "b"]);
    expect(runDirsOf(["--tensorboard", "a", "--host", "::1", "b"])).toEqual(["a", "b"]);
  });

  it("prints a 127.0.0.1 URL that serves the run, writes TensorBoard events, and stops on SIGTERM", async () => {
    const run = writeFixtureRun(2);
    const child = spawn(process.execPath, [`${root}bin/gymrl.js`, "view", "--tensorboard", run.dir], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /gymrl view: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on("exit", (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const metrics = (await (await fetch(`${url}api/runs/0/metrics`)).json()) as { lines: unknown[] };
      expect(metrics.lines).toHaveLength(3); // step 0 validation, steps 1 and 2
      // --tensorboard: the event file is there beside the run's metrics
      expect(existsSync(join(run.dir, "tensorboard", "events.out.tfevents.0.gymrl"))).toBe(true);
    } finally {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
  }, 60_000);

  it("a bad --port is an error naming the flag", async () => {
    const run = writeFixtureRun(1);
    const child = spawn(process.execPath, [`${root}bin/gymrl.js`, "view", run.dir, "--port", "http"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).not.toBe(0);
    expect(err).toContain("--port: expected an integer");
  }, 60_000);
});

describe("the view layer in the layer table", () => {
  const eslint = new ESLint({ cwd: root });
  const violations = async (file: string, target: string) => {
    const [r] = await eslint.lintText(`import * as m from "${target}";\nexport const x = m;\n`, { filePath: `${root}${file}` });
    return r.messages.filter((m) => m.ruleId?.startsWith("boundaries/")).map((m) => m.message);
  };

  it.each([
    ["src/grpo/p.ts", "../view/index.ts"],
    ["src/server/p.ts", "../view/index.ts"],
    ["src/view/p.ts", "../server/serve.ts"],
    ["src/view/p.ts", "../model/model.ts"],
  ])("%s importing %s is rejected", async (file, target) => {
    expect(await violations(file, target)).toHaveLength(1);
  }, 30_000);

  it.each([
    ["src/cli/p.ts", "../view/index.ts"],
    ["src/view/p.ts", "../grpo/trained-rollouts.ts"],
  ])("%s importing %s is allowed", async (file, target) => {
    expect(await violations(file, target)).toEqual([]);
  }, 30_000);
});
