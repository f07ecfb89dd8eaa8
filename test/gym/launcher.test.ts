/**
 * The launcher with real child processes: start-up from the example configs, every endpoint of
 * the head server and the servers, a rollout through the children, a resources server killed
 * mid-run, start-up failures, a Python entrypoint in a NeMo Gym checkout, and no orphans.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { GymClient, GymConfigError, GymServerError, listServerInstances, startGym, type ConfigDict, type GymHandle } from "../../src/gym/index.ts";
import { serverInstanceDisplay, verifyResponse } from "../../src/gym/protocol/index.ts";
import { EXAMPLE_CONFIG, REPO, VLLM_CONFIG } from "./helpers/paths.ts";
import { completion, startScriptedPolicy, type ScriptedPolicy } from "./helpers/scripted-policy.ts";

const ROW = JSON.parse(readFileSync(`${REPO}/src/environments/example_single_tool_call/data/example.jsonl`, "utf8").split("\n")[0]) as Record<string, unknown>;
const AGENT = "example_single_tool_call_simple_agent";
const RES = "example_single_tool_call";

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("startGym with the example configs", () => {
  let policy: ScriptedPolicy;
  let gym: GymHandle;
  let onPolicyCall: (call: number) => void = () => {};
  const exits: GymServerError[] = [];

  beforeAll(async () => {
    policy = await startScriptedPolicy((body, call) => {
      onPolicyCall(call);
      const step = (body.messages as { role: string }[]).filter((m) => m.role === "assistant").length;
      return step === 0
        ? completion({ toolCalls: [{ id: "call_1", name: "get_weather", arguments: '{"city":"SF"}' }], prompt: [1, 2], generation: [3, 4] })
        : completion({ content: "Cold.", prompt: [1, 2, 3, 4, 5], generation: [6, 7] });
    });
    gym = await startGym({
      configPaths: [VLLM_CONFIG, EXAMPLE_CONFIG],
      overrides: [`+policy_base_url=${policy.baseUrl}`, "+policy_api_key=dummy", "+policy_model_name=test-policy"],
      envYaml: false,
      onServerExit: (_s, e) => exits.push(e),
    });
  });
  afterAll(async () => {
    await gym?.stop();
    await policy.close();
  });

  test("the head server answers /, /global_config_dict_yaml and /server_instances", async () => {
    expect(await (await fetch(`${gym.headUrl}/`)).json()).toEqual({ status: "ok" });
    const yamlText = (await (await fetch(`${gym.headUrl}/global_config_dict_yaml`)).json()) as unknown;
    expect(typeof yamlText).toBe("string"); // a JSON string whose content is YAML, as NeMo Gym sends it
    const cfg = parseYaml(yamlText as string) as ConfigDict;
    expect(listServerInstances(cfg).map((s) => [s.name, s.block.port])).toEqual(gym.servers.map((s) => [s.name, Number(new URL(s.url).port)]));
    const instances = serverInstanceDisplay.array().parse(await (await fetch(`${gym.headUrl}/server_instances`)).json());
    expect(instances.map((i) => [i.name, i.server_type, i.status, i.pid])).toEqual(gym.servers.map((s) => [s.name, s.serverType, "running", s.pid]));
    expect(gym.servers.every((s) => s.kind === "ts")).toBe(true);

    // Bad requests get JSON errors, and the head server keeps serving.
    const wrongMethod = await fetch(`${gym.headUrl}/server_instances`, { method: "POST", body: "{" });
    expect([wrongMethod.status, await wrongMethod.json()]).toEqual([405, { detail: "Method Not Allowed" }]);
    const unknown = await fetch(`${gym.headUrl}/nope`);
    expect([unknown.status, await unknown.json()]).toEqual([404, { detail: "Not Found" }]);
    expect(await (await fetch(`${gym.headUrl}/`)).json()).toEqual({ status: "ok" });
  });

  test("every server answers GET / and a rollout runs through the children with its token fields", async () => {
    for (const s of gym.servers) expect(await (await fetch(`${s.url}/`)).json()).toEqual({ status: "ok" });
    const client = await GymClient.fromHead(gym.headUrl);
    const result = verifyResponse.parse(await client.postJson(AGENT, "/run", ROW));
    expect(result.reward).toBe(1);
    const out = result.response.output as Record<string, unknown>[];
    expect(out.map((o) => o.type)).toEqual(["function_call", "function_call_output", "message"]);
    expect(out[0]).toMatchObject({ prompt_token_ids: [1, 2], generation_token_ids: [3, 4], generation_log_probs: [-0.003, -0.004] });
    expect(out[2]).toMatchObject({ prompt_token_ids: [1, 2, 3, 4, 5], generation_token_ids: [6, 7] });

    // The client's rollout session keeps the resources server's cookie.
    const session = client.session();
    await session.postJson(RES, "/seed_session", ROW);
    const first = session.jar.get(RES);
    expect(Object.keys(first)).toEqual([`SimpleWeatherResourcesServer___${RES}`]);
    await session.postJson(RES, "/get_weather", { city: "Oslo" });
    expect(session.jar.get(RES)).toEqual(first);
  });

  test("killing the resources server mid-run is a prompt error naming it", async () => {
    const victim = gym.servers.find((s) => s.name === RES)!;
    onPolicyCall = () => process.kill(victim.pid!, "SIGKILL"); // after seed_session, before the tool call
    const t0 = Date.now();
    const res = await fetch(`${gym.servers.find((s) => s.name === AGENT)!.url}/run`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ROW) });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { detail: string };
    expect(body.detail).toMatch(/server 'example_single_tool_call' at http:\/\/127\.0\.0\.1:\d+\/get_weather is unreachable/);

    await expect.poll(() => exits.length).toBe(1);
    expect(exits[0].serverName).toBe(RES);
    expect(exits[0].message).toMatch(/'example_single_tool_call' was killed by SIGKILL while Gym was running/);
    expect(() => gym.check()).toThrow(/example_single_tool_call/);
    const instances = serverInstanceDisplay.array().parse(await (await fetch(`${gym.headUrl}/server_instances`)).json());
    expect(instances.find((i) => i.name === RES)!.status).toBe("exited");
  });

  test("stop() leaves no child process behind", async () => {
    const pids = gym.servers.map((s) => s.pid!);
    await gym.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    await expect(fetch(`${gym.headUrl}/`)).rejects.toThrow();
  });
});

describe("start-up failures", () => {
  const policy = ["+policy_base_url=http://127.0.0.1:1/v1", "+policy_api_key=k", "+policy_model_name=m"];

  test("a server that dies while starting is named with its output, and the others are stopped", async () => {
    const seen: string[] = [];
    const err = await startGym({
      configPaths: [VLLM_CONFIG, EXAMPLE_CONFIG],
      overrides: [...policy, "+policy_model.responses_api_models.vllm_model.base_url=[]"],
      envYaml: false,
      onOutput: (name, line) => seen.push(`${name}: ${line}`),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GymServerError);
    expect((err as GymServerError).serverName).toBe("policy_model");
    expect((err as GymServerError).message).toMatch(/exited with code 1 during start-up[\s\S]*base_url/);
    // The servers that did come up were stopped with it.
    const pids = seen.flatMap((l) => /listening on .* \(pid (\d+)\)/.exec(l)?.slice(1).map(Number) ?? []);
    expect(pids.filter(isAlive)).toEqual([]);
  });

  test("an impl gymrl does not have, without a NeMo Gym checkout, is a config error naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gymrl-launch-"));
    writeFileSync(join(dir, "c.yaml"), "mystery:\n  resources_servers:\n    not_ported_yet: {entrypoint: app.py, domain: math}\n");
    const err = await startGym({ configPaths: [join(dir, "c.yaml")], envYaml: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GymConfigError);
    expect((err as Error).message).toMatch(/mystery\.resources_servers\.not_ported_yet.*--nemo-gym-dir/);
  });

  test("a Python entrypoint in a NeMo Gym checkout is started the NeMo Gym way", async () => {
    const checkout = mkdtempSync(join(tmpdir(), "gymrl-nemo-gym-"));
    const dir = join(checkout, "resources_servers", "py_env");
    mkdirSync(dir, { recursive: true });
    // A stand-in for a NeMo Gym server: reads NEMO_GYM_CONFIG_DICT / NEMO_GYM_CONFIG_PATH, serves GET /.
    writeFileSync(
      join(dir, "app.py"),
      [
        "import os, re, json, http.server",
        "cfg, name = os.environ['NEMO_GYM_CONFIG_DICT'], os.environ['NEMO_GYM_CONFIG_PATH']",
        "block = cfg[cfg.index(name + ':'):]",
        "port = int(re.search(r'port: (\\d+)', block).group(1))",
        "class H(http.server.BaseHTTPRequestHandler):",
        "    def do_GET(self):",
        "        body = json.dumps({'status': 'ok', 'cwd': os.getcwd(), 'name': name}).encode()",
        "        self.send_response(200); self.send_header('content-type', 'application/json'); self.end_headers(); self.wfile.write(body)",
        "http.server.HTTPServer(('127.0.0.1', port), H).serve_forever()",
      ].join("\n"),
    );
    writeFileSync(join(checkout, "c.yaml"), "py:\n  resources_servers:\n    py_env: {entrypoint: app.py, domain: other}\n");
    const gym = await startGym({ configPaths: [join(checkout, "c.yaml")], nemoGymDir: checkout, envYaml: false });
    try {
      expect(gym.servers[0].kind).toBe("python");
      expect(await (await fetch(`${gym.servers[0].url}/`)).json()).toEqual({ status: "ok", cwd: dir, name: "py" });
    } finally {
      const pid = gym.servers[0].pid!;
      await gym.stop();
      expect(isAlive(pid)).toBe(false);
    }
  });
});
