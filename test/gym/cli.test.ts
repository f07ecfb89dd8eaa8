/** `gymrl gym start` / `gymrl gym status` as a user runs them: status table, Ctrl-C, no orphans even after SIGKILL. */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { serverInstanceDisplay } from "../../src/gym/protocol/index.ts";
import { EXAMPLE_CONFIG, REPO, VLLM_CONFIG } from "./helpers/paths.ts";
import { startScriptedPolicy, type ScriptedPolicy } from "./helpers/scripted-policy.ts";

const BIN = `${REPO}/bin/gymrl.js`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: REPO });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d));
    p.stderr.on("data", (d: Buffer) => (out += d));
    p.on("exit", (code) => resolve({ code, out }));
  });
}

/** Start `gymrl gym start` and wait for "Gym is up". */
async function startCli(policyUrl: string): Promise<{ proc: ChildProcess; head: string; out: () => string }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [BIN, "gym", "start", "--config", VLLM_CONFIG, "--config", EXAMPLE_CONFIG, `--model-url=${policyUrl}`, "--model", "m", `+policy_api_key=dummy`, `+head_server.port=${port}`], { cwd: REPO });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d));
  proc.stderr!.on("data", (d: Buffer) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (out.includes("Gym is up")) {
        clearInterval(t);
        resolve();
      } else if (proc.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`gymrl gym start exited:\n${out}`));
      }
    }, 100);
  });
  return { proc, head: `http://127.0.0.1:${port}`, out: () => out };
}

async function serverPids(head: string): Promise<number[]> {
  const rows = serverInstanceDisplay.array().parse(await (await fetch(`${head}/server_instances`)).json());
  return rows.map((r) => r.pid!);
}

describe("gymrl gym", () => {
  let policy: ScriptedPolicy;
  beforeAll(async () => {
    policy = await startScriptedPolicy(() => ({ status: 500, body: {} }));
  });
  afterAll(() => policy.close());

  test("start prints the status table; status queries it; Ctrl-C stops every child", async () => {
    const cli = await startCli(policy.baseUrl);
    expect(cli.out()).toMatch(/NAME\s+TYPE\s+URL\s+PID\s+STATUS/);
    for (const name of ["policy_model", "example_single_tool_call", "example_single_tool_call_simple_agent"]) expect(cli.out()).toMatch(new RegExp(`${name}\\s+\\S+\\s+http://127\\.0\\.0\\.1:\\d+\\s+\\d+\\s+running`));

    const status = await run(["gym", "status", "--head", cli.head]);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/example_single_tool_call_simple_agent\s+responses_api_agents\s+\S+\s+\d+\s+running/);

    const pids = await serverPids(cli.head);
    expect(pids.every(isAlive)).toBe(true);
    cli.proc.kill("SIGINT");
    const code = await new Promise((r) => cli.proc.once("exit", (c) => r(c)));
    expect(code).toBe(130);
    expect(pids.filter(isAlive)).toEqual([]);

    const after = await run(["gym", "status", "--head", cli.head]);
    expect(after.code).toBe(1);
    expect(after.out).toMatch(/No Gym head server answered/);
  });

  test("servers do not outlive a launcher killed with SIGKILL", async () => {
    const cli = await startCli(policy.baseUrl);
    const pids = await serverPids(cli.head);
    cli.proc.kill("SIGKILL");
    await expect.poll(() => pids.filter(isAlive), { timeout: 10_000, interval: 100 }).toEqual([]);
  });

  test("a config error is one clear line and exit code 1", async () => {
    const r = await run(["gym", "start", "--config", VLLM_CONFIG]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/vllm_model_for_training\.yaml: 'policy_model\.responses_api_models\.vllm_model\.base_url' interpolates \$\{policy_base_url\}/);
  });
});
