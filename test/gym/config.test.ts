/** Config loading: every NeMo Gym sample YAML loads; precedence, interpolation, ???, refs, errors, ports. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { assignServerAddresses, GymConfigError, listServerInstances, loadGymConfig } from "../../src/gym/index.ts";
import { parseOverride } from "../../src/gym/config/overrides.ts";
import { EXAMPLE_CONFIG, NEMO_GYM_CONFIGS, NEMO_GYM_FIXTURES, SIMPLE_AGENT_CONFIG, VLLM_CONFIG } from "./helpers/paths.ts";

const POLICY = ["+policy_base_url=http://127.0.0.1:9/v1", "+policy_api_key=dummy", "+policy_model_name=test-model"];

function tmp(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "gymrl-config-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function loadError(fn: () => unknown): GymConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GymConfigError);
    return e as GymConfigError;
  }
  throw new Error("expected a GymConfigError");
}

describe("every NeMo Gym sample config loads", () => {
  test("the sample data is there", () => expect(NEMO_GYM_CONFIGS.length).toBeGreaterThanOrEqual(10));

  test.each(NEMO_GYM_CONFIGS.map((c) => [c.name, c.path]))("%s", (_name, file) => {
    // Each env config names policy_model; simple_agent.yaml and math_with_judge leave a ??? to fill.
    const configPaths = [VLLM_CONFIG, join(NEMO_GYM_FIXTURES, "example_single_tool_call/example_single_tool_call.yaml"), file];
    const overrides = [...POLICY];
    if (file.endsWith("simple_agent.yaml")) overrides.push("+simple_agent.responses_api_agents.simple_agent.resources_server.name=example_single_tool_call");
    if (file.includes("math_with_judge")) overrides.push("+math_with_judge.resources_servers.math_with_judge.judge_model_server.name=policy_model");
    const { config } = loadGymConfig({ configPaths, overrides, envYaml: false });
    const instances = listServerInstances(config);
    expect(instances.length).toBeGreaterThanOrEqual(3);
    const model = instances.find((s) => s.name === "policy_model")!;
    expect(model.block.base_url).toBe("http://127.0.0.1:9/v1");
    expect(model.block.return_token_id_information).toBe(true);
  });
});

describe("loading", () => {
  test("policy_base_url as a list keeps its type through ${...}", () => {
    const { config } = loadGymConfig({ configPaths: [VLLM_CONFIG], overrides: ["+policy_base_url=[http://a/v1,http://b/v1]", "+policy_api_key=k", "+policy_model_name=m"], envYaml: false });
    expect(listServerInstances(config)[0].block.base_url).toEqual(["http://a/v1", "http://b/v1"]);
  });

  test("precedence: config_paths (nested first) < file < env.yaml < command line", () => {
    const dir = tmp({
      "base.yaml": "a: base\nb: base\nc: base\nd: base\nlist: [1, 2, 3]\n",
      "main.yaml": "config_paths: [base.yaml]\nb: main\nc: main\nd: main\nlist: [9]\n",
      "env.yaml": "c: env\nd: env\n",
    });
    const { config, provenance } = loadGymConfig({ configPaths: [join(dir, "main.yaml")], envYaml: join(dir, "env.yaml"), overrides: ["+d=cli"] });
    expect([config.a, config.b, config.c, config.d]).toEqual(["base", "main", "env", "cli"]);
    expect(config.list).toEqual([9]); // lists are replaced, not merged
    expect(provenance.sourceOf(["b"])).toBe(join(dir, "main.yaml"));
  });

  test("env.yaml in the working directory is picked up", () => {
    const dir = tmp({ "env.yaml": "policy_base_url: http://env/v1\npolicy_api_key: k\npolicy_model_name: m\n" });
    const { config } = loadGymConfig({ configPaths: [VLLM_CONFIG], cwd: dir });
    expect(listServerInstances(config)[0].block.base_url).toBe("http://env/v1");
  });

  test("dotted overrides, + and ++, values read as YAML, ~ deletes", () => {
    const { config } = loadGymConfig({
      configPaths: [VLLM_CONFIG],
      overrides: [...POLICY, "+head_server.port=12000", "++port_range_low=5000", "port_range_high=5999", "+extra={x: 1, y: [a, b]}", "+gone=1", "~gone"],
      envYaml: false,
    });
    expect(config.head_server).toEqual({ host: "127.0.0.1", port: 12000 });
    expect([config.port_range_low, config.port_range_high]).toEqual([5000, 5999]);
    expect(config.extra).toEqual({ x: 1, y: ["a", "b"] });
    expect("gone" in config).toBe(false);
  });

  test("interpolation inside strings, ${oc.env:...}, and nested references", () => {
    const dir = tmp({ "c.yaml": "host: h\nport: 1\nurl: http://${host}:${port}/v1\nfrom_env: ${oc.env:GYMRL_TEST_VAR,fallback}\nsub: {a: 1}\ncopy: ${sub}\n" });
    const { config } = loadGymConfig({ configPaths: [join(dir, "c.yaml")], envYaml: false, env: {} });
    expect(config.url).toBe("http://h:1/v1");
    expect(config.from_env).toBe("fallback");
    expect(config.copy).toEqual({ a: 1 });
  });
});

describe("errors name the file, the key and what was expected", () => {
  test("??? left unset", () => {
    const e = loadError(() => loadGymConfig({ configPaths: [VLLM_CONFIG, SIMPLE_AGENT_CONFIG], overrides: POLICY, envYaml: false }));
    expect(e.source).toContain("simple_agent.yaml");
    expect(e.key).toBe("simple_agent.responses_api_agents.simple_agent.resources_server.name");
    expect(e.message).toMatch(/required/);
  });

  test("interpolation of a missing key", () => {
    const e = loadError(() => loadGymConfig({ configPaths: [VLLM_CONFIG], envYaml: false }));
    expect(e.source).toContain("vllm_model_for_training.yaml");
    expect(e.key).toBe("policy_model.responses_api_models.vllm_model.base_url");
    expect(e.message).toMatch(/policy_base_url/);
  });

  test("a {type, name} reference to a server that is not configured", () => {
    const e = loadError(() => loadGymConfig({ configPaths: [EXAMPLE_CONFIG], envYaml: false }));
    expect(e.source).toContain("example_single_tool_call.yaml");
    expect(e.key).toBe("example_single_tool_call_simple_agent.responses_api_agents.simple_agent.model_server.name");
    expect(e.message).toMatch(/responses_api_models 'policy_model'.*not configured/);
  });

  test("a reference to a server of the wrong type", () => {
    const e = loadError(() =>
      loadGymConfig({ configPaths: [VLLM_CONFIG, EXAMPLE_CONFIG], overrides: [...POLICY, "+example_single_tool_call_simple_agent.responses_api_agents.simple_agent.resources_server.name=policy_model"], envYaml: false }),
    );
    expect(e.source).toBe("command line");
    expect(e.message).toMatch(/'policy_model' is a responses_api_models server/);
  });

  test("malformed instances and settings", () => {
    const dir = tmp({
      "noentry.yaml": "x:\n  resources_servers:\n    foo: {domain: math}\n",
      "nodomain.yaml": "x:\n  resources_servers:\n    foo: {entrypoint: app.py}\n",
      "badport.yaml": "x:\n  responses_api_agents:\n    foo: {entrypoint: app.py, port: web}\n",
      "bad.yaml": "a: [unclosed\n",
      "cycle.yaml": "config_paths: [cycle.yaml]\n",
    });
    expect(loadError(() => loadGymConfig({ configPaths: [join(dir, "noentry.yaml")], envYaml: false })).key).toBe("x.resources_servers.foo.entrypoint");
    expect(loadError(() => loadGymConfig({ configPaths: [join(dir, "nodomain.yaml")], envYaml: false })).key).toBe("x.resources_servers.foo.domain");
    expect(loadError(() => loadGymConfig({ configPaths: [join(dir, "badport.yaml")], envYaml: false })).key).toBe("x.responses_api_agents.foo.port");
    expect(loadError(() => loadGymConfig({ configPaths: [join(dir, "bad.yaml")], envYaml: false })).source).toMatch(/bad\.yaml:\d+:\d+/);
    expect(loadError(() => loadGymConfig({ configPaths: [join(dir, "cycle.yaml")], envYaml: false })).message).toMatch(/includes itself/);
    expect(loadError(() => loadGymConfig({ configPaths: ["nope.yaml"], cwd: dir, envYaml: false })).message).toMatch(/not found/);
    expect(loadError(() => loadGymConfig({ configPaths: [VLLM_CONFIG], overrides: [...POLICY, "+head_server.port=web"], envYaml: false })).key).toBe("head_server.port");
    expect(() => parseOverride("no_equals_sign")).toThrow(GymConfigError);
  });
});

describe("addresses", () => {
  test("free ports in the configured range, default_host, configured ports kept", async () => {
    const { config } = loadGymConfig({
      configPaths: [VLLM_CONFIG, EXAMPLE_CONFIG],
      overrides: [...POLICY, "+port_range_low=23000", "+port_range_high=23999", "+example_single_tool_call.resources_servers.example_single_tool_call.port=24999"],
      envYaml: false,
    });
    await assignServerAddresses(config);
    const ports = listServerInstances(config).map((s) => [s.name, s.block.host, s.block.port]);
    for (const [name, host, port] of ports) {
      expect(host).toBe("127.0.0.1");
      if (name === "example_single_tool_call") expect(port).toBe(24999);
      else {
        expect(port).toBeGreaterThanOrEqual(23000);
        expect(port).toBeLessThanOrEqual(23999);
      }
    }
    expect(new Set(ports.map((p) => p[2])).size).toBe(3);
  });
});
