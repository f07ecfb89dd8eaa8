/**
 * The splice takes the prompt from the last message that carries token ids and the template from
 * after the last assistant turn. When those are different turns, everything between them would
 * vanish from the prompt silently; the server answers 400 naming the message instead.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadQwen3Tokenizer } from "../../src/tokenizer/index.ts";
import { QWEN_EOS, startTestServer, type RunningServer } from "../support/openai-server.ts";
import { ScriptedEngine } from "../support/scripted-engine.ts";

const tok = loadQwen3Tokenizer();
const enc = (s: string) => tok.encode(s, { allowSpecial: true });

type Msg = Record<string, unknown>;
interface TokenMessage extends Msg {
  prompt_token_ids: number[];
  generation_token_ids: number[];
}

let engine: ScriptedEngine;
let srv: RunningServer;
beforeAll(async () => {
  engine = new ScriptedEngine([]);
  srv = await startTestServer(engine);
});
afterAll(() => srv.close());

/** A turn through the openai client, with the token fields on the returned message. */
async function turn(messages: Msg[], text: string): Promise<TokenMessage> {
  engine.push([...enc(text), QWEN_EOS]);
  const r = await srv.client.chat.completions.create({ model: "gymrl-test", messages: messages as never, logprobs: true });
  return r.choices[0].message as unknown as TokenMessage;
}

const user1 = { role: "user", content: "Name a colour." };
const user2 = { role: "user", content: "Another one." };
const user3 = { role: "user", content: "And a third." };

describe("an assistant turn without ids after the id-carrying one", () => {
  it("is a 400 naming the message (index and role), not a prompt missing turns", async () => {
    const a1 = await turn([user1], "Red.");
    const a2 = { role: "assistant", content: "Blue." }; // e.g. a client that dropped the token fields
    const requestsBefore = engine.requests.length;
    const messages = [user1, a1, user2, a2, user3];
    const err = await srv.client.chat.completions.create({ model: "gymrl-test", messages: messages as never }).then(
      () => null,
      (e: unknown) => e as { status: number; type: string; param: string; message: string },
    );
    expect(err).toMatchObject({ status: 400, type: "invalid_request_error", param: "messages[3]" });
    expect(err!.message).toContain("messages[3] (assistant) has no token ids but comes after messages[1]");
    expect(engine.requests.length).toBe(requestsBefore); // nothing reached the engine

    // /tokenize builds the same prompt, so it refuses the same way.
    const t = await fetch(`${srv.baseUrl}/tokenize`, { method: "POST", body: JSON.stringify({ messages }) });
    expect(t.status).toBe(400);
    const body = (await t.json()) as { error: { message: string; param: string } };
    expect(body.error.param).toBe("messages[3]");
  });

  it("is fine when the ids sit on the last assistant turn: the prompt extends that turn", async () => {
    const plain = { role: "assistant", content: "Red." };
    const a2 = await turn([user1, plain, user2], "Blue.");
    const messages = [user1, plain, user2, a2, user3];
    await turn(messages, "Green.");
    const prompt = engine.requests.at(-1)!.promptTokenIds;
    const prev = [...a2.prompt_token_ids, ...a2.generation_token_ids];
    expect(prompt.slice(0, prev.length)).toEqual(prev);
    expect(tok.decode(prompt as number[])).toContain("And a third.");
  });
});
