/**
 * Every HTTP server gymrl runs, started in this process for the fuzzer: the OpenAI server (over a
 * scripted engine with the real Qwen3 tokenizer), and Gym's head server, simple_agent, the
 * vllm_model proxy and each built-in resources server, all with a small body limit so oversized
 * bodies stay cheap. Each target lists its endpoints, its error shape and one valid request.
 */
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  assignServerAddresses,
  GymClient,
  findTsImplementation,
  listServerInstances,
  loadGymConfig,
  startServer,
  type ConfigDict,
  type ServerDefinition,
} from "../../../src/gym/index.ts";
import { startHeadServer } from "../../../src/gym/head-server.ts";
import { QWEN_EOS, startTestServer } from "../openai-server.ts";
import { ScriptedEngine } from "../scripted-engine.ts";

export type ErrorShape = "openai" | "detail";

export interface FuzzTarget {
  name: string;
  baseUrl: string;
  endpoints: { method: "GET" | "POST"; path: string; shape: ErrorShape }[];
  /** Throws unless the server still answers a valid request correctly. */
  checkValid(): Promise<void>;
}

export interface FuzzServers {
  targets: FuzzTarget[];
  bodyLimit: number;
  close(): Promise<void>;
}

const REPO = resolve(import.meta.dirname, "../../..");

/** The OpenAI server's routes (server/app.ts) with a scripted engine's control routes off. */
const OPENAI_ENDPOINTS = ["/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize", "/v1/models", "/health"];

export async function startFuzzServers(bodyLimit = 256 * 1024): Promise<FuzzServers> {
  const closers: (() => Promise<void>)[] = [];
  const targets: FuzzTarget[] = [];
  try {
    const engine = new ScriptedEngine([], 512);
    const openai = await startTestServer(engine, { maxBodyBytes: bodyLimit });
    closers.push(openai.close);
    targets.push({
      name: "openai_server",
      baseUrl: openai.baseUrl,
      endpoints: OPENAI_ENDPOINTS.map((path) => ({ method: path.startsWith("/v1/models") || path === "/health" ? "GET" : "POST", path, shape: "openai" })),
      async checkValid() {
        engine.push([9707, QWEN_EOS]);
        const r = await openai.client.chat.completions.create({ model: "gymrl-test", messages: [{ role: "user", content: "hi" }] });
        if (r.choices[0].message.content !== "Hello") throw new Error(`unexpected answer ${JSON.stringify(r.choices[0].message)}`);
      },
    });

    const envConfigs = readdirSync(resolve(REPO, "src/environments"), { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith("_") && findTsImplementation("resources_servers", d.name))
      .flatMap((d) => readdirSync(resolve(REPO, "src/environments", d.name, "configs")).map((f) => resolve(REPO, "src/environments", d.name, "configs", f)));
    const { config } = loadGymConfig({
      configPaths: [resolve(REPO, "src/gym/configs/vllm_model_for_training.yaml"), ...envConfigs],
      overrides: [`+policy_base_url=${openai.baseUrl}/v1`, "+policy_api_key=dummy", "+policy_model_name=gymrl-test"],
      envYaml: false,
    });
    await assignServerAddresses(config);
    for (const s of listServerInstances(config)) {
      const file = findTsImplementation(s.serverType, s.impl);
      if (!file) continue; // a server gymrl has not ported runs NeMo Gym's Python, not ours
      const def = ((await import(pathToFileURL(file).href)) as { default: ServerDefinition }).default;
      const running = await startServer(def, { globalConfig: config, instanceName: s.name, maxBodyBytes: bodyLimit });
      closers.push(running.close);
      const routes = await def.routes({ instanceName: s.name, serverType: s.serverType, impl: s.impl, config: s.block, globalConfig: config, client: new GymClient(config) });
      const endpoints = [{ method: "GET" as const, path: "/" }, ...routes].map((r) => ({
        method: r.method,
        path: r.path,
        shape: ("errorStyle" in r && r.errorStyle) || (r.path.startsWith("/v1/") ? "openai" : "detail"),
      }));
      targets.push({ name: s.name, baseUrl: running.url, endpoints, checkValid: validCheckFor(s.serverType, running.url) });
    }

    const head = await startHeadServer({ config: () => config as ConfigDict, instances: () => [], host: "127.0.0.1", port: 0 });
    closers.push(head.close);
    targets.push({
      name: "head_server",
      baseUrl: head.url,
      endpoints: ["/", "/global_config_dict_yaml", "/server_instances"].map((path) => ({ method: "GET", path, shape: "detail" })),
      async checkValid() {
        const yaml = await okJson(await fetch(`${head.url}/global_config_dict_yaml`));
        if (typeof yaml !== "string" || !yaml.includes("policy_model")) throw new Error("head server config is wrong");
      },
    });
  } catch (e) {
    await Promise.all(closers.map((c) => c()));
    throw e;
  }
  return { targets, bodyLimit, close: async () => void (await Promise.all(closers.map((c) => c()))) };
}

function validCheckFor(serverType: string, url: string): () => Promise<void> {
  if (serverType === "responses_api_models") {
    return async () => {
      const out = (await okJson(await post(`${url}/v1/responses`, { input: "hi" }))) as { output?: unknown[] };
      if (!Array.isArray(out.output)) throw new Error("model proxy answered without output");
    };
  }
  // agents and resources servers both aggregate metrics of verify responses
  return async () => {
    const out = (await okJson(await post(`${url}/aggregate_metrics`, { verify_responses: [{ reward: 1 }, { reward: 0 }] }))) as Record<string, unknown>;
    if (JSON.stringify(out).indexOf("0.5") < 0) throw new Error(`aggregate_metrics gave ${JSON.stringify(out)}`);
  };
}

function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

async function okJson(res: Response): Promise<unknown> {
  const text = await res.text();
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}
