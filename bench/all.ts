/**
 * `npm run bench`: every focused bench in turn, each in its own process so one's memory and
 * threads never colour another's figures. Each bench's output streams through; the last line is
 * one JSON object keyed by bench name, holding each bench's own last-line figures.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const BENCHES = ["tokenizer", "sgemm", "model", "engine", "prefix-cache", "server", "rollout", "grpo"];
const only = process.argv.slice(2);
const root = fileURLToPath(new URL("..", import.meta.url));

function run(name: string): Promise<Record<string, unknown> | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", `bench/${name}.bench.ts`], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      process.stdout.write(d);
      out += d.toString();
    });
    child.on("exit", (code) => {
      const last = out.trim().split("\n").at(-1) ?? "";
      try {
        resolve(code === 0 ? (JSON.parse(last) as Record<string, unknown>) : { error: `exit code ${code}` });
      } catch {
        resolve({ error: "the last line was not JSON" });
      }
    });
  });
}

const figures: Record<string, unknown> = {};
for (const name of only.length > 0 ? only : BENCHES) {
  console.log(`\n=== bench:${name} ===`);
  figures[name] = await run(name);
}
console.log(JSON.stringify(figures));
