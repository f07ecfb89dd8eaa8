/**
 * The copy probe: does a model read the request? For each kind of conversation, the mean
 * log-probability per trained (assistant) token is measured twice, with each conversation's own
 * user message and with the user message of another conversation of the same kind. A model that
 * copies names, ids and dates from the request scores its own request higher; one that writes
 * values frequent in training scores both the same (configs/sft-demo-workplace.yaml has the
 * measurements that made this the first check of a workplace warm start). Tool answers stay the
 * conversation's own, so copying from them is not what the gap measures.
 */
import type { Model } from "../model/model.ts";
import { evalLoss } from "../model/sft.ts";
import type { ChatFormat } from "../tokenizer/index.ts";
import { type Chat, chatToExamples } from "./chat-examples.ts";

/** A conversation's kind: its last tool call's name and whether it carries a tool list; "reply" without calls. */
export function conversationKind(chat: Chat): string {
  const names = chat.messages.flatMap((m) => ((m as { tool_calls?: { function?: { name?: string } }[] }).tool_calls ?? []).map((c) => c.function?.name ?? "?"));
  if (names.length === 0) return "reply";
  return `${names.at(-1)}${(chat.tools ?? []).length > 0 ? " +tools" : ""}`;
}

/** Each conversation with the user message(s) of the next one in the list (a rotation: none keeps its own). */
export function swappedRequests(chats: readonly Chat[]): Chat[] {
  if (chats.length < 2) throw new Error("swapping requests needs at least 2 conversations");
  const users = chats.map((c) => c.messages.filter((m) => m.role === "user").map((m) => m.content));
  return chats.map((c, i) => {
    const theirs = users[(i + 1) % chats.length]!;
    let k = 0;
    return { ...c, messages: c.messages.map((m) => (m.role === "user" && k < theirs.length ? { ...m, content: theirs[k++] } : m)) };
  });
}

export interface ProbeLine {
  kind: string;
  conversations: number;
  /** mean log-probability per trained token with the conversation's own request */
  own_logp: number;
  /** the same with another conversation's request */
  swapped_logp: number;
  /** own − swapped: how much the replies depend on the request */
  gap: number;
}

/** The probe over up to `perKind` conversations of each kind with at least 2 (kinds sorted by name). */
export function copyProbe(model: Model, format: ChatFormat, chats: readonly Chat[], perKind = 40, batchTokens = 4096): ProbeLine[] {
  const groups = new Map<string, Chat[]>();
  for (const c of chats) {
    const kind = conversationKind(c);
    const g = groups.get(kind) ?? [];
    if (g.length < perKind) g.push(c);
    groups.set(kind, g);
  }
  const logp = (cs: Chat[]) => -evalLoss(model, cs.flatMap((c) => chatToExamples(format, c)), batchTokens);
  return [...groups]
    .filter(([, g]) => g.length >= 2)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, g]) => {
      const own = logp(g);
      const swapped = logp(swappedRequests(g));
      return { kind, conversations: g.length, own_logp: own, swapped_logp: swapped, gap: own - swapped };
    });
}
