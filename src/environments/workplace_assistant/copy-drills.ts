/**
 * A copy curriculum for workplace_assistant's supervised warm start. A small model trained from
 * scratch on the demonstrations alone learns their format but never copies a value from the
 * request or from a tool's answer: the values come from small sets, so writing a frequent one
 * lowers the loss first (configs/sft-demo-workplace.yaml has the measurements). Two kinds of
 * conversations make copying the only way to predict:
 *
 * - **echo drills**: a request quotes 2-8 random words and the reply repeats them (bare or as a JSON
 *   string). Short, so many fit a batch; they are what made copying appear (on the 3.3M-parameter
 *   demo model, between 300 and 800 steps of 2,048 tokens, where demonstrations alone never did).
 * - **value drills** (`copyDrill`): a real demonstration whose free values (a person's first name
 *   and address, addresses read from an answer, subjects, bodies, names of new events, tasks and
 *   customers, record ids) are replaced consistently, in the request, the calls and the tool
 *   answers, by random ones. The tool answers
 *   are then no longer the sandbox's: a drill is warm-start data, never a row to verify.
 *
 * The random words come from the sandbox's own text (subjects, task, event and customer names), so
 * the drills add no vocabulary the rows do not have.
 */
import { pick, randInt, rng } from "../_shared/generate.ts";
import { newSandbox } from "./sandbox.ts";
import { MUTATING } from "./templates.ts";
import { asks, CONFIRM_REPLY, demonstrations } from "./tasks.ts";

export interface Chat {
  messages: Record<string, unknown>[];
  tools?: unknown[];
}

interface WordPools {
  words: string[];
  names: string[];
}
let pools: WordPools | undefined;
function wordPools(): WordPools {
  if (pools) return pools;
  const sb = newSandbox();
  const texts = [...sb.emails.column("subject"), ...sb.tasks.column("task_name"), ...sb.calendar.column("event_name"), ...sb.crm.column("customer_name")].map(String);
  const words = [...new Set(texts.flatMap((t) => t.split(/[^A-Za-z]+/)).filter((w) => w.length >= 3))].sort();
  const names = [...new Set(sb.crm.column("customer_name").map(String).flatMap((n) => n.split(" ")).filter((w) => /^[A-Z][a-z]{2,}$/.test(w)))].sort();
  return (pools = { words, names });
}

function phrase(rand: () => number, lo: number, hi: number): string {
  const ws = Array.from({ length: randInt(rand, lo, hi) }, () => pick(rand, wordPools().words).toLowerCase());
  const text = ws.join(" ");
  return text[0]!.toUpperCase() + text.slice(1);
}

/** Echo drills: `n` short conversations whose reply repeats the words the request quotes. */
export function echoDrills(n: number, rand: () => number): Chat[] {
  const { words } = wordPools();
  return Array.from({ length: n }, () => {
    const quoted = Array.from({ length: randInt(rand, 2, 8) }, () => (rand() < 0.3 ? pick(rand, words) : pick(rand, words).toLowerCase())).join(" ");
    const style = randInt(rand, 0, 2);
    const request = style === 0 ? `Repeat "${quoted}"` : style === 1 ? `Say "${quoted}" back to me` : `Write the note "${quoted}"`;
    const reply = style === 2 ? JSON.stringify({ note: quoted }) : quoted;
    return { messages: [{ role: "user", content: request }, { role: "assistant", content: reply }] };
  });
}

/** Argument keys whose values a user states in free text. */
const FREE_TEXT = new Set(["subject", "event_name", "task_name"]);
const RECORD_IDS = new Set(["event_id", "email_id", "task_id", "customer_id"]);

interface ToolCallMessage {
  function: { name: string; arguments: string };
}
const callsOf = (chat: Chat) =>
  chat.messages.flatMap((m) => ((m.tool_calls as ToolCallMessage[] | undefined) ?? []).map((c) => ({ name: c.function.name, args: JSON.parse(c.function.arguments) as Record<string, unknown> })));

/**
 * The value replacements of one demonstration: original text → random text. A looked-up first
 * name maps with the address that the directory returned for it (the first later argument that
 * starts with the lower-cased name and a dot).
 */
function replacements(chat: Chat, rand: () => number): Map<string, string> {
  const { names } = wordPools();
  const address = (first: string) => `${first.toLowerCase()}.${pick(rand, names).toLowerCase()}@atlas.com`;
  const map = new Map<string, string>();
  const calls = callsOf(chat);
  calls.forEach((c, i) => {
    if (c.name === "company_directory_find_email_address" && typeof c.args.name === "string" && !map.has(c.args.name)) {
      const first = c.args.name;
      const looked = calls.slice(i + 1).flatMap((d) => Object.values(d.args)).find((v): v is string => typeof v === "string" && v.startsWith(`${first.toLowerCase()}.`));
      let fresh = pick(rand, names);
      while (fresh === first) fresh = pick(rand, names);
      map.set(first, fresh);
      if (looked) map.set(looked, address(fresh));
    }
    for (const [key, value] of Object.entries(c.args)) {
      if (typeof value !== "string" || map.has(value)) continue;
      if (FREE_TEXT.has(key) || (key === "new_value" && c.args.field === "event_name")) map.set(value, phrase(rand, 1, 4));
      else if (key === "customer_name") map.set(value, `${pick(rand, names)} ${pick(rand, names)}`);
      else if (key === "body") map.set(value, `${phrase(rand, 3, 9)}.`);
      else if (RECORD_IDS.has(key)) map.set(value, String(randInt(rand, 0, 999)).padStart(8, "0")); // the sandbox's shape: "00000146"
      else if (value.endsWith("@atlas.com")) map.set(value, address(pick(rand, names))); // read from an answer
    }
  });
  return map;
}

/**
 * A value drill of one demonstration (OpenAI chat shape, as `demonstrations` gives). Replacements
 * go longest first, so a value inside another (a customer's name in "<name> follow-up") changes
 * the same way in both. Tool answers and call arguments are JSON text: their values are replaced
 * in their JSON-escaped form.
 */
export function copyDrill<C extends Chat>(chat: C, rand: () => number): C {
  const pairs = [...replacements(chat, rand)].sort((a, b) => b[0].length - a[0].length);
  const inText = (s: string) => pairs.reduce((t, [from, to]) => t.split(from).join(to), s);
  const escaped = (s: string) => JSON.stringify(s).slice(1, -1);
  const inJson = (s: string) => pairs.reduce((t, [from, to]) => t.split(escaped(from)).join(escaped(to)), s);
  return {
    ...chat,
    messages: chat.messages.map((m) => {
      const out: Record<string, unknown> = { ...m };
      if (typeof m.content === "string") out.content = m.role === "tool" ? inJson(m.content) : inText(m.content);
      if (Array.isArray(m.tool_calls)) {
        out.tool_calls = (m.tool_calls as (ToolCallMessage & Record<string, unknown>)[]).map((c) => ({ ...c, function: { ...c.function, arguments: inJson(c.function.arguments) } }));
      }
      return out;
    }),
  };
}

/** The drill cut before its first changing call, asking for confirmation instead (as `asks` demonstrations do). */
function askingInstead<C extends Chat>(chat: C): C {
  const first = chat.messages.findIndex((m) => ((m.tool_calls as ToolCallMessage[] | undefined) ?? []).some((c) => MUTATING.test(c.function.name)));
  return { ...chat, messages: [...chat.messages.slice(0, first), { role: "assistant", content: CONFIRM_REPLY }] };
}

export interface CurriculumOptions {
  /** real demonstrations (train split, category tools, compact), each with its tool list */
  n: number;
  seed: number;
  /** value drills (default 10 × n), drawn from their own demonstrations */
  drills?: number;
  /** echo drills (default 10 × n) */
  echoes?: number;
  /**
   * share of value drills that keep the tool list (default 0.4); the rest are ~3× shorter without
   * it. With 0.15 the model learned to copy without the list but not with it (the rows' shape).
   */
  drillsWithTools?: number;
  /**
   * Share of the conversations with a tool list (the demonstrations and the value drills that keep
   * it: the shape of the rows the policy is validated on) that ask for confirmation instead of
   * making the change (DemonstrationOptions.askFraction; default 0). Drills without the tool list
   * always make it, so the copying of the changing call is trained either way.
   */
  askFraction?: number;
  /**
   * Share of all demonstrations and value drills that repeat their last change
   * (DemonstrationOptions.repeatFraction; default 0). The repeat is in the drill before its values
   * are replaced, so its answer is the sandbox's.
   */
  repeatFraction?: number;
}

/**
 * The workplace warm start's data: real demonstrations, value drills and echo drills, in that
 * order (SFT shuffles). Defaults are the measured mix (n = 1,500: 15,000 value drills, 40% of
 * them with the tool list, and 15,000 echo drills).
 */
export function copyCurriculum(opts: CurriculumOptions): Chat[] {
  const tools = { tools: "category", toolStyle: "compact" } as const;
  const rand = rng(`workplace-copy:${opts.seed}`);
  const askFraction = opts.askFraction ?? 0;
  const repeatFraction = opts.repeatFraction ?? 0;
  const real = demonstrations({ split: "train", n: opts.n, seed: opts.seed, ...tools, askFraction, repeatFraction });
  const withTools = opts.drillsWithTools ?? 0.4;
  const nDrills = opts.drills ?? 10 * opts.n;
  const drills = demonstrations({ split: "train", n: nDrills, seed: opts.seed + 1, ...tools, repeatFraction }).map((d, k) => {
    const drill = copyDrill(d, rand);
    if (rand() >= withTools) return { ...drill, tools: [] };
    const request = String(d.messages.find((m) => m.role === "user")!.content);
    return asks(askFraction, opts.seed + 1, k, request) ? askingInstead(drill) : drill;
  });
  return [...real, ...drills, ...echoDrills(opts.echoes ?? 10 * opts.n, rand)];
}
