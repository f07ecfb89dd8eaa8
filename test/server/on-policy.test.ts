/**
 * The on-policy token-ID fix end to end: earlier assistant turns sent back with their token ids
 * reach the engine exactly as generated, whatever re-templating and re-tokenizing would give.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replacePrefixTokens } from "../../src/server/prefix-splice.ts";
import { loadQwen3Tokenizer, renderChat, type ChatMessage } from "../../src/tokenizer/index.ts";
import { QWEN_EOS, startTestServer, type RunningServer } from "../support/openai-server.ts";
import { ScriptedEngine } from "../support/scripted-engine.ts";

const tok = loadQwen3Tokenizer();
const enc = (s: string) => tok.encode(s, { allowSpecial: true });
const templated = (messages: ChatMessage[], addGenerationPrompt: boolean, tools?: unknown[]) =>
  enc(renderChat(tok, { messages, addGenerationPrompt, tools: tools as never }));

const calcTool = {
  type: "function" as const,
  function: {
    name: "calculate",
    description: "Evaluate an arithmetic expression",
    parameters: { type: "object", properties: { expr: { type: "string" } }, required: ["expr"] },
  },
};

type Msg = Record<string, unknown>;

let engine: ScriptedEngine;
let srv: RunningServer;
beforeAll(async () => {
  engine = new ScriptedEngine([]);
  srv = await startTestServer(engine);
});
afterAll(() => srv.close());

/** One chat call with logprobs on; returns the assistant message carrying its token fields. */
async function call(messages: Msg[], generation: number[], extra: Msg = {}): Promise<Msg & { prompt_token_ids: number[]; generation_token_ids: number[] }> {
  engine.push(generation);
  const res = await fetch(`${srv.baseUrl}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({ messages, logprobs: true, top_logprobs: 0, ...extra }),
  });
  const body = (await res.json()) as { choices: Array<{ message: Msg }>; error?: unknown };
  if (!res.ok) throw new Error(JSON.stringify(body));
  return body.choices[0].message as never;
}

const isPrefix = (prefix: number[], of: number[]) => prefix.length <= of.length && prefix.every((t, i) => of[i] === t);

describe("the prefix splice keeps earlier turns as generated", () => {
  it("keeps a non-canonical BPE split (' Ski'+'nny', not ' Skinny')", async () => {
    expect(enc(" Skinny")).toEqual([94224]);
    expect(tok.decode([26951, 3834])).toBe(" Skinny");
    const user1 = { role: "user", content: "Describe the cat in one word." };
    const gen1 = [26951, 3834, QWEN_EOS];
    const a1 = await call([user1], gen1);
    expect(a1.content).toBe(" Skinny");

    const user2 = { role: "user", content: "Why?" };
    await call([user1, a1, user2], [...enc("Because."), QWEN_EOS]);
    const prompt2 = engine.requests.at(-1)!.promptTokenIds as number[];
    expect(isPrefix([...a1.prompt_token_ids, 26951, 3834, QWEN_EOS], prompt2)).toBe(true);
    // Without the token fields the template re-tokenizes the turn: the merge comes back.
    const plain = templated([user1 as ChatMessage, { role: "assistant", content: " Skinny" }, user2 as ChatMessage], true);
    expect(plain).toContain(94224);
    expect(prompt2).not.toContain(94224);
    expect(prompt2.slice(a1.prompt_token_ids.length + gen1.length)).toEqual(plain.slice(plain.indexOf(QWEN_EOS, a1.prompt_token_ids.length) + 1));
  });

  it("keeps a tool-call turn written with the model's own whitespace", async () => {
    const user = { role: "user", content: "What is 12*7?" };
    // Compact JSON: the template would re-render it as {"name": "calculate", "arguments": {...}}.
    const callText = '<tool_call>\n{"name":"calculate","arguments":{"expr":"12*7"}}\n</tool_call>';
    const gen1 = [...enc(callText), QWEN_EOS];
    const a1 = await call([user], gen1, { tools: [calcTool] });
    const calls = a1.tool_calls as Array<{ id: string; function: { arguments: string } }>;
    expect(JSON.parse(calls[0].function.arguments)).toEqual({ expr: "12*7" });

    const toolMsg = { role: "tool", tool_call_id: calls[0].id, content: "84" };
    await call([user, a1, toolMsg], [...enc("84"), QWEN_EOS], { tools: [calcTool] });
    const prompt2 = engine.requests.at(-1)!.promptTokenIds as number[];
    expect(isPrefix([...a1.prompt_token_ids, ...gen1], prompt2)).toBe(true);
    const rerendered = templated([user as ChatMessage, { role: "assistant", content: null, tool_calls: calls as never }, toolMsg as ChatMessage], true, [calcTool]);
    expect(isPrefix([...a1.prompt_token_ids, ...gen1], rerendered)).toBe(false);
  });

  it("keeps a <think> turn that the Qwen3 template strips from history", async () => {
    const user1 = { role: "user", content: "2+2?" };
    const gen1 = [...enc("<think>\nTwo plus two is four.\n</think>\n\n4"), QWEN_EOS];
    const a1 = await call([user1], gen1);
    expect(a1.reasoning_content).toContain("Two plus two");
    const user2 = { role: "user", content: "And 3+3?" };
    await call([user1, a1, user2], [...enc("6"), QWEN_EOS]);
    const prompt2 = engine.requests.at(-1)!.promptTokenIds as number[];
    expect(isPrefix([...a1.prompt_token_ids, ...gen1], prompt2)).toBe(true);
    const reasoningIds = enc("Two plus two");
    const rerendered = templated([user1 as ChatMessage, { role: "assistant", content: a1.content as string, reasoning_content: a1.reasoning_content as string }, user2 as ChatMessage], true);
    expect(tok.decode(rerendered)).not.toContain("Two plus two"); // the template dropped it
    expect(tok.decode(prompt2)).toContain(tok.decode(reasoningIds));
  });

  it("keeps a length-stopped turn whole and closes it with the template's EOS", async () => {
    const user1 = { role: "user", content: "Write a long story." };
    const a1 = await call([user1], enc("Once upon a time there was"), { max_tokens: 4 });
    expect(a1.generation_token_ids).toHaveLength(4);
    expect(a1.generation_token_ids).not.toContain(QWEN_EOS);
    const user2 = { role: "user", content: "Go on." };
    await call([user1, a1, user2], [...enc("ok"), QWEN_EOS]);
    const prompt2 = engine.requests.at(-1)!.promptTokenIds as number[];
    const prev = [...a1.prompt_token_ids, ...a1.generation_token_ids];
    expect(isPrefix(prev, prompt2)).toBe(true);
    expect(prompt2[prev.length]).toBe(QWEN_EOS);
  });

  it("/tokenize gives the same prompt as chat for a spliced conversation", async () => {
    const user1 = { role: "user", content: "Describe the cat." };
    const a1 = await call([user1], [26951, 3834, QWEN_EOS]);
    const messages = [user1, a1, { role: "user", content: "More." }];
    await call(messages, [...enc("Sure."), QWEN_EOS]);
    const chatPrompt = engine.requests.at(-1)!.promptTokenIds;
    const t = (await (await fetch(`${srv.baseUrl}/tokenize`, { method: "POST", body: JSON.stringify({ messages }) })).json()) as { tokens: number[] };
    expect(t.tokens).toEqual(chatPrompt);
    // vLLM's explicit form, as NeMo RL's test sends it.
    const explicit = (await (
      await fetch(`${srv.baseUrl}/tokenize`, {
        method: "POST",
        body: JSON.stringify({ messages: [user1, { role: "assistant", content: " Skinny" }, messages[2]], required_prefix_token_ids: [...a1.prompt_token_ids as number[], 26951, 3834] }),
      })
    ).json()) as { tokens: number[] };
    expect(explicit.tokens).toEqual(chatPrompt);
  });

  it("answers 400, never a silently different prompt, when the splice is impossible", async () => {
    const res = await fetch(`${srv.baseUrl}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({
        messages: [{ role: "user", content: "x" }, { role: "assistant", content: "y", prompt_token_ids: [1, 2], generation_token_ids: "bad" }],
      }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.type).toBe("invalid_request_error");
  });
});

describe("multi-turn prompts extend each other exactly", () => {
  // Words whose canonical tokenization differs from a per-character split, so re-tokenizing the
  // generated text would change the ids.
  const words = ["Skinny", "hello", "tokenization", "über", "naïve", "42", "x=y+1", "🙂", "calculate", "answer"];
  const genFor = (picks: number[]) => {
    // Per-character ids: a split the tokenizer would never produce for these words.
    const text = picks.map((p) => words[p]).join(" ");
    return [...text].flatMap((ch) => enc(ch));
  };

  it("holds over random conversations with tool calls, thinking and length stops", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            picks: fc.array(fc.integer({ min: 0, max: words.length - 1 }), { minLength: 1, maxLength: 6 }),
            kind: fc.constantFrom("text", "think", "tool", "length"),
          }),
          { minLength: 2, maxLength: 5 },
        ),
        async (turns) => {
          const messages: Msg[] = [{ role: "system", content: "You are terse." }, { role: "user", content: "start" }];
          let prev: number[] | null = null;
          for (const [i, turn] of turns.entries()) {
            let gen = genFor(turn.picks);
            if (turn.kind === "think") gen = [...enc("<think>\n"), ...gen, ...enc("\n</think>\n\n"), ...genFor([0])];
            if (turn.kind === "tool") gen = [...enc('<tool_call>\n{"name":"calculate","arguments":{"expr":"'), ...genFor([5]), ...enc('"}}\n</tool_call>')];
            const extra: Msg = { tools: [calcTool] };
            if (turn.kind === "length") extra.max_tokens = Math.max(1, gen.length - 1);
            else gen = [...gen, QWEN_EOS];
            const a = await call(messages, gen, extra);
            const prompt = a.prompt_token_ids;
            if (prev) {
              expect(isPrefix(prev, prompt), `turn ${i} does not extend the previous prompt + generation`).toBe(true);
              // The server encodes only the text after the splice point; the reference rule
              // (NeMo RL's replace_prefix_tokens over whole encodings) must give the same ids.
              const lastAssistant = messages.map((m) => m.role).lastIndexOf("assistant");
              const reference = replacePrefixTokens(
                prev,
                templated(messages.slice(0, lastAssistant + 1) as unknown as ChatMessage[], false, [calcTool]),
                templated(messages as unknown as ChatMessage[], true, [calcTool]),
                QWEN_EOS,
              );
              expect(prompt).toEqual(reference);
            }
            prev = [...prompt, ...a.generation_token_ids];
            messages.push(a);
            const calls = a.tool_calls as Array<{ id: string }> | undefined;
            if (calls && calls.length > 0) messages.push({ role: "tool", tool_call_id: calls[0].id, content: "7" });
            else messages.push({ role: "user", content: `next ${i}` });
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
