/**
 * Tokenizer bench (Qwen3) on real text: the NeMo Gym example rows and recorded rollouts of the
 * built-in environments (bench/gym-fixtures.ts). Encode and decode throughput on their distinct
 * text, both warm (median of reps after warm-ups: the BPE word cache holds the corpus's words, as
 * in a long-running server) and cold (a freshly loaded tokenizer's first pass, every word a cache
 * miss); chat renders per second over every rollout as the chat of its last model call. Prints a
 * few readable lines; the last line is one JSON object.
 */
import { performance } from "node:perf_hooks";
import {
  applyChatTemplate,
  loadQwen3Tokenizer,
  loadTokenizer,
  qwen3TokenizerDir,
  renderChat,
} from "../src/tokenizer/index.ts";
import { gymFixtureChats, gymFixtureText } from "./gym-fixtures.ts";

const WARMUP = 2;
const REPS = 7;
const COLD_REPS = 3;

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

const corpus = gymFixtureText();
const text = corpus.text;
const ids = tok.encode(text);
const encodeS = timeIt(() => tok.encode(text));
const untrustedS = timeIt(() => tok.encodeUntrusted(text));
const decodeS = timeIt(() => tok.decode(ids));

// cold: a fresh tokenizer per rep (its BPE cache empty); only the encode is timed
const coldSecs: number[] = [];
for (let i = 0; i < COLD_REPS; i++) {
  const fresh = loadTokenizer(qwen3TokenizerDir());
  const c0 = performance.now();
  const coldIds = fresh.encode(text);
  coldSecs.push((performance.now() - c0) / 1000);
  if (coldIds.length !== ids.length) throw new Error("a fresh tokenizer encoded the corpus differently");
}
const coldS = median(coldSecs);

const chats = gymFixtureChats();
const args = chats.map((c) => ({ messages: c.messages, tools: c.tools, addGenerationPrompt: true }));
const promptTokens = args.reduce((a, c) => a + applyChatTemplate(tok, c).length, 0);
const renderS = timeIt(() => {
  for (const c of args) renderChat(tok, c);
});
const applyS = timeIt(() => {
  for (const c of args) applyChatTemplate(tok, c);
});

const figures = {
  encode_tokens_per_s: Math.round(ids.length / encodeS),
  encode_cold_tokens_per_s: Math.round(ids.length / coldS),
  renders_per_s: Math.round(args.length / renderS),
  encode_untrusted_tokens_per_s: Math.round(ids.length / untrustedS),
  decode_tokens_per_s: Math.round(ids.length / decodeS),
  apply_chat_template_per_s: Math.round(args.length / applyS),
  apply_chat_template_tokens_per_s: Math.round(promptTokens / applyS),
  load_ms: Math.round(loadMs),
};

const fmt = (x: number) => x.toLocaleString("en");
console.log(`tokenizer bench: Qwen3 (vocab ${tok.vocabSize}), median of ${REPS} reps after ${WARMUP} warm-ups (cold: ${COLD_REPS} fresh loads)`);
console.log(
  `text: the NeMo Gym example rows and rollouts of src/environments/*/data (${corpus.files} files, ` +
    `${corpus.strings} distinct strings, ${text.length} chars → ${ids.length} tokens); ${chats.length} rollouts rendered as chats`,
);
console.log(`load                 ${figures.load_ms} ms`);
console.log(`encode (warm cache)  ${fmt(figures.encode_tokens_per_s)} tokens/s`);
console.log(`encode (cold cache)  ${fmt(figures.encode_cold_tokens_per_s)} tokens/s`);
console.log(`encode (untrusted)   ${fmt(figures.encode_untrusted_tokens_per_s)} tokens/s`);
console.log(`decode               ${fmt(figures.decode_tokens_per_s)} tokens/s`);
console.log(`render chat          ${chats.length} chats (${args.reduce((a, c) => a + c.messages.length, 0)} messages): ${fmt(figures.renders_per_s)} renders/s`);
console.log(
  `render + encode      ${promptTokens} prompt tokens in all: ${fmt(figures.apply_chat_template_per_s)} prompts/s, ` +
    `${fmt(figures.apply_chat_template_tokens_per_s)} prompt tokens/s`,
);
console.log(JSON.stringify(figures));
