/**
 * Tokenizer bench (Qwen3): encode and decode throughput on a fixed ~100 KB mixed corpus, and chat
 * renders per second for a tool-calling conversation. Each figure is the median of several timed
 * reps after a warm-up, so the BPE word cache is warm, as in a long-running server. Prints a few
 * readable lines; the last line is one JSON object.
 */
import { performance } from "node:perf_hooks";
import {
  applyChatTemplate,
  loadQwen3Tokenizer,
  renderChat,
  type ChatMessage,
  type ChatTool,
} from "../src/tokenizer/index.ts";

const WARMUP = 2;
const REPS = 7;
const RENDERS_PER_REP = 200;

/** mulberry32: a tiny seeded PRNG, so the corpus is the same on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Prose, code, JSON, numbers and some non-ASCII, about `chars` characters. */
function corpus(chars: number): string {
  const rand = rng(42);
  const words = (
    "the model tokenizer reward policy gradient rollout agent environment server token prompt value " +
    "synonym extract blazing warm temperature climate"
  ).split(" ");
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const pieces: string[] = [];
  let n = 0;
  while (n < chars) {
    const r = rand();
    let p: string;
    if (r < 0.6) p = Array.from({ length: 8 + Math.floor(rand() * 12) }, () => pick(words)).join(" ") + ". ";
    else if (r < 0.75) p = `function f${Math.floor(rand() * 1000)}(x) {\n  return x * ${(rand() * 100).toFixed(3)};\n}\n`;
    else if (r < 0.9) {
      p = JSON.stringify({ name: pick(words), arguments: { value: Math.floor(rand() * 1e6), ok: rand() < 0.5 } }) + "\n";
    }
    else p = pick(["Größe und Straße. ", "温度很高。", "température élevée ", "😀 emoji ", "Δx ≈ 0.5 "]);
    pieces.push(p);
    n += p.length;
  }
  return pieces.join("");
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median seconds of one call of `fn`, after WARMUP untimed calls. */
function timeIt(fn: () => void): number {
  for (let i = 0; i < WARMUP; i++) fn();
  const secs: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    fn();
    secs.push((performance.now() - t0) / 1000);
  }
  return median(secs);
}

// ------------------------------------------------------------------------------------------------

const t0 = performance.now();
const tok = loadQwen3Tokenizer();
const loadMs = performance.now() - t0;

const text = corpus(100_000);
const ids = tok.encode(text);
const encodeS = timeIt(() => tok.encode(text));
const untrustedS = timeIt(() => tok.encodeUntrusted(text));
const decodeS = timeIt(() => tok.decode(ids));

const tools: ChatTool[] = ["get_synonym_value", "extract_synonym_values"].map((name) => ({
  type: "function",
  function: {
    name,
    description: `The ${name} tool.`,
    parameters: {
      type: "object",
      properties: { synonym: { type: "string", description: "A synonym." } },
      required: ["synonym"],
    },
  },
}));
const messages: ChatMessage[] = [
  { role: "system", content: `# Instructions\n${corpus(2_000)}` },
  { role: "user", content: "What factors contribute to extremely high temperatures? Call get_synonym_value on Blazing." },
  {
    role: "assistant",
    content: null,
    reasoning_content: "The user wants the value of Blazing.",
    tool_calls: [
      { id: "call_0", type: "function", function: { name: "get_synonym_value", arguments: '{"synonym": "Blazing"}' } },
    ],
  },
  { role: "tool", tool_call_id: "call_0", content: '{"synonym_value": 711}' },
];
const chat = { messages, tools, addGenerationPrompt: true };
const promptTokens = applyChatTemplate(tok, chat).length;
const renderS = timeIt(() => {
  for (let i = 0; i < RENDERS_PER_REP; i++) renderChat(tok, chat);
});
const applyS = timeIt(() => {
  for (let i = 0; i < RENDERS_PER_REP; i++) applyChatTemplate(tok, chat);
});

const figures = {
  encode_tokens_per_s: Math.round(ids.length / encodeS),
  renders_per_s: Math.round(RENDERS_PER_REP / renderS),
  encode_untrusted_tokens_per_s: Math.round(ids.length / untrustedS),
  decode_tokens_per_s: Math.round(ids.length / decodeS),
  apply_chat_template_per_s: Math.round(RENDERS_PER_REP / applyS),
  load_ms: Math.round(loadMs),
};

const fmt = (x: number) => x.toLocaleString("en");
console.log(`tokenizer bench: Qwen3 (vocab ${tok.vocabSize}), median of ${REPS} reps after ${WARMUP} warm-ups`);
console.log(`load                 ${figures.load_ms} ms`);
console.log(`encode               ${text.length} chars → ${ids.length} tokens: ${fmt(figures.encode_tokens_per_s)} tokens/s`);
console.log(`encode (untrusted)   ${fmt(figures.encode_untrusted_tokens_per_s)} tokens/s`);
console.log(`decode               ${fmt(figures.decode_tokens_per_s)} tokens/s`);
console.log(`render chat          ${messages.length} messages, ${tools.length} tools: ${fmt(figures.renders_per_s)} renders/s`);
console.log(`render + encode      ${promptTokens} prompt tokens: ${fmt(figures.apply_chat_template_per_s)} prompts/s`);
console.log(JSON.stringify(figures));
