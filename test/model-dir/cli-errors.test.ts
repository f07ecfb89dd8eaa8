/**
 * `gymrl serve --model` and `gymrl sft --init` on broken model directories, as child processes:
 * exit status 1 and one stderr line naming the file and field, before any engine starts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { writeTinyHfModel } from "../support/hf-model-dir.ts";

const bin = fileURLToPath(new URL("../../bin/gymrl.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "gymrl-cli-errors-"));

function run(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stderr: r.stderr };
}

function editJson(path: string, patch: Record<string, unknown>): void {
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, "utf8")), ...patch }));
}

it("gymrl serve --model: a missing tokenizer file, and weights contradicting config.json", () => {
  const noTok = join(root, "no-tokenizer");
  writeTinyHfModel(noTok, "qwen3");
  rmSync(join(noTok, "tokenizer.json"));
  const a = run(["serve", "--model", noTok, "--port", "0"]);
  expect(a.status).toBe(1);
  expect(a.stderr.trim()).toBe(`gymrl serve: ${join(noTok, "tokenizer.json")}: missing (a model directory needs tokenizer.json)`);

  const shape = join(root, "shape");
  writeTinyHfModel(shape, "llama3", { shards: 2 });
  editJson(join(shape, "config.json"), { intermediate_size: 48 });
  const b = run(["serve", "--model", shape, "--port", "0"]);
  expect(b.status).toBe(1);
  expect(b.stderr.trim()).toMatch(/^gymrl serve: \S+model-0000[12]-of-00002\.safetensors: tensor model\.layers\.0\.mlp\.gate_proj\.weight has shape \[32,16\], but config\.json \[intermediate_size, hidden_size\] gives \[48,16\]$/);
});

it("gymrl serve --model: a KV cache larger than the machine names the flags that size it", () => {
  const dir = join(root, "kv");
  writeTinyHfModel(dir, "qwen3");
  const r = run(["serve", "--model", dir, "--port", "0", "--slots", "100000000"]);
  expect(r.status).toBe(1);
  expect(r.stderr.trim()).toMatch(/^gymrl serve: the KV cache for 100000000 slots × 40960 tokens \(2 layers × 1 KV heads × head_dim 8, float32\) needs \d+\.\d GiB, more than 80% of this machine's .* lower --max-model-len \(default: config\.json max_position_embeddings, 40960\) or --slots$/);
});

it("gymrl sft --init: an unsupported architecture", () => {
  const dir = join(root, "mistral");
  writeTinyHfModel(dir, "llama3");
  editJson(join(dir, "config.json"), { model_type: "mistral", architectures: ["MistralForCausalLM"] });
  const data = join(root, "chats.jsonl");
  writeFileSync(data, JSON.stringify({ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] }) + "\n");
  const r = run(["sft", "--init", dir, "--data", data, "--config", "configs/sft-demo.yaml", "--out", join(root, "run")]);
  expect(r.status).toBe(1);
  expect(r.stderr.trim()).toMatch(/^gymrl sft: \S+config\.json: model_type "mistral" \(architectures \["MistralForCausalLM"\]\) is not a family gymrl supports/);
});
