/**
 * The copy probe: requests rotate within a kind (no conversation keeps its own, nothing else
 * changes), kinds follow the last tool call and the tool list, identical requests give a gap of
 * exactly 0, and the figures are the held-out loss computed independently on the same examples.
 */
import { describe, expect, test } from "vitest";
import { demoConfigFor } from "../model/default-config.ts";
import { Model } from "../model/model.ts";
import { evalLoss } from "../model/sft.ts";
import { buildVocabMap } from "../model/vocab.ts";
import { referenceKernels } from "../tensor/reference.ts";
import { loadChatFormat } from "../tokenizer/index.ts";
import { type Chat, chatToExamples } from "./chat-examples.ts";
import { conversationKind, copyProbe, swappedRequests } from "./copy-probe.ts";

const call = (name: string, args: string) => ({ role: "assistant" as const, content: "", tool_calls: [{ id: "c", type: "function" as const, function: { name, arguments: args } }] });
const chat = (request: string, name: string, args: string, tools = false): Chat => ({
  messages: [{ role: "user", content: request }, call(name, args), { role: "tool", tool_call_id: "c", content: "ok" }, { role: "assistant", content: "Done." }],
  ...(tools ? { tools: [{ type: "function", function: { name, parameters: { type: "object", properties: {} } } }] } : {}),
});

describe("swappedRequests", () => {
  test("each conversation gets the next one's request; the replies stay", () => {
    const chats = ["Email Ana", "Email Bo", "Email Cy"].map((r, i) => chat(r, "send", `{"to": "${i}"}`));
    const out = swappedRequests(chats);
    expect(out.map((c) => c.messages[0]!.content)).toEqual(["Email Bo", "Email Cy", "Email Ana"]);
    out.forEach((c, i) => expect(c.messages.slice(1)).toEqual(chats[i]!.messages.slice(1)));
    expect(chats[0]!.messages[0]!.content).toBe("Email Ana"); // the input is not changed
    expect(() => swappedRequests(chats.slice(0, 1))).toThrow(/at least 2/);
  });
});

describe("conversationKind", () => {
  test("the last call's name, with or without a tool list; reply without calls", () => {
    expect(conversationKind(chat("x", "email_send_email", "{}"))).toBe("email_send_email");
    expect(conversationKind(chat("x", "email_send_email", "{}", true))).toBe("email_send_email +tools");
    expect(conversationKind({ messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] })).toBe("reply");
  });
});

describe("copyProbe", () => {
  const format = loadChatFormat();
  const names = ["Ana", "Bo", "Cy", "Di", "Ed", "Flo"];
  const copying = names.map((n) => chat(`Email ${n}`, "send", JSON.stringify({ to: n })));
  const same = names.map((n) => chat("Email someone", "send", JSON.stringify({ to: n })));
  const ids = buildVocabMap([...format.tokenizer.addedTokens.values(), ...[...copying, ...same].flatMap((c) => chatToExamples(format, c).flatMap((e) => e.tokens))]);
  const model = new Model({ ...demoConfigFor(ids), hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 16 }, { kernels: referenceKernels, seed: 3 });

  test("own_logp is the independent held-out loss; identical requests give a gap of exactly 0", () => {
    const [line] = copyProbe(model, format, copying, 10);
    expect(line!.kind).toBe("send");
    expect(line!.conversations).toBe(6);
    const own = -evalLoss(model, copying.flatMap((c) => chatToExamples(format, c)), 4096);
    expect(line!.own_logp).toBeCloseTo(own, 10);
    expect(line!.gap).not.toBe(0); // a random model's replies depend on the request too
    const [flat] = copyProbe(model, format, same, 10);
    expect(flat!.gap).toBe(0);
  });

  test("perKind caps each kind; kinds with one conversation are left out", () => {
    const lines = copyProbe(model, format, [...copying, chat("Email Gus", "other", "{}")], 4);
    expect(lines.map((l) => [l.kind, l.conversations])).toEqual([["send", 4]]);
  });
});
