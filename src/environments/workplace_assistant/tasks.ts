/**
 * workplace_assistant's generated tasks (the full prompt set lives on a hub this machine cannot
 * reach): deterministic rows in upstream's shape (`responses_create_params` with the system
 * prompt upstream uses, `ground_truth` = the state-changing calls, `category`,
 * `environment_name`) plus `agent_ref`, and demonstrations for a supervised warm start: the whole
 * call sequence with each tool's real answer (run on a fresh sandbox) and a short final reply.
 *
 * Train and validation are disjoint in entities: a task's target record (an email, event, task,
 * customer, or a new record's key) decides its split, so no validation target is seen in training.
 *
 * Tools per row: `all` gives upstream's 27 schemas; `category` only those of the task's domains
 * (plus the company directory). `toolStyle: compact` drops the descriptions. The demo uses
 * category + compact: 27 described schemas are ~4,000 prompt tokens, too many for a small model
 * on two cores.
 */
import { hash32, rng, type Split } from "../_shared/generate.ts";
import { newSandbox } from "./sandbox.ts";
import { CATEGORIES, MUTATING, TEMPLATES, type Call, type Category } from "./templates.ts";
import { callTool } from "./tools/index.ts";
import { chatTool, DOMAINS, toolsFor, type ToolStyle } from "./tools/schemas.ts";

export { CATEGORIES, type Category } from "./templates.ts";

export const AGENT_NAME = "workplace_assistant_simple_agent";
/** Upstream's system prompt (every row of NeMo Gym's example.jsonl). */
export const SYSTEM_PROMPT =
  "Today's date is Thursday, 2023-11-30 and the current time is 23:59:00. Remember the current date and time when answering queries. Meetings must not start before 9am or end after 6pm.";
export const FINAL_REPLY = "Done.";
/**
 * What an over-cautious demonstrator says instead of making the change: the look-ups are done, and
 * the assistant asks for confirmation rather than calling the tool that changes state. A person
 * would accept it; /verify, which compares the tables, scores it 0 (no change was made).
 */
export const CONFIRM_REPLY = "I have everything I need. Should I go ahead with this change?";

export interface WorkplaceTask {
  category: Category;
  entity: string;
  prompt: string;
  calls: Call[];
  domains: (typeof DOMAINS)[number][];
}

export interface GenerateOptions {
  split: Split;
  n: number;
  seed: number;
  /** which tools each row offers (default category) */
  tools?: "all" | "category";
  toolStyle?: ToolStyle;
  /** categories to draw from, in equal shares (default all six) */
  categories?: readonly Category[];
}

export interface DemonstrationOptions extends GenerateOptions {
  /**
   * Share of the demonstrations that stop before the first state-changing call and ask for
   * confirmation (CONFIRM_REPLY) instead (0..1, default 0). Which ones is a hash of the seed, the
   * index and the prompt, so the mix is the same on every machine. The look-ups, and so the copying
   * of names, ids and addresses from tool answers into calls, are in every demonstration.
   */
  askFraction?: number;
  /**
   * Share of the demonstrations (of those that act) that make their last state-changing call a
   * second time, its real answer included, before "Done." (0..1, default 0): a demonstrator's slip
   * that /verify scores 0 wherever the repeat changes a table again (a second e-mail, plot, event,
   * task or customer). Unlike askFraction, every demonstration still trains the changing call and
   * so its copying. Chosen by a hash as askFraction is.
   */
  repeatFraction?: number;
}

/**
 * Whether demonstration `k` (request `prompt`) of a set generated with `seed` asks for confirmation (askFraction):
 * a hash of the seed, the index and the request, so the mix is the same on every machine.
 */
export function asks(fraction: number, seed: number, k: number, prompt: string): boolean {
  return chosen("ask", fraction, seed, k, prompt);
}

/** Whether demonstration `k` repeats its last change (repeatFraction): a hash as in `asks`, another key. */
export function repeats(fraction: number, seed: number, k: number, prompt: string): boolean {
  return chosen("repeat", fraction, seed, k, prompt);
}

const chosen = (key: string, fraction: number, seed: number, k: number, prompt: string) => fraction > 0 && hash32(`${key}:${seed}:${k}:${prompt}`) / 2 ** 32 < fraction;

/** An optional fraction option, 0 when absent; outside [0, 1] it is an error naming the option. */
function share(name: string, value: number | undefined): number {
  const v = value ?? 0;
  if (!(v >= 0 && v <= 1)) throw new Error(`workplace ${name} must be in [0, 1], got ${v}`);
  return v;
}

/** The split of an entity: 1 in 5 to validation, by hash, whatever n is. */
export const entitySplit = (entity: string): Split => (hash32(`wa-split:${entity}`) % 5 === 0 ? "validation" : "train");

export function generateTasks(opts: GenerateOptions): WorkplaceTask[] {
  const cats = opts.categories ?? CATEGORIES;
  const rand = rng(`workplace:${opts.seed}:${opts.split}`);
  const out: WorkplaceTask[] = [];
  for (let tries = 0; out.length < opts.n; tries++) {
    if (tries > 1000 * (opts.n + 10)) throw new Error(`could not draw ${opts.n} ${opts.split} workplace tasks`);
    const category = cats[out.length % cats.length]!; // equal shares, in turn
    const templates = TEMPLATES[category];
    const draft = templates[Math.floor(rand() * templates.length)]!(rand);
    if (draft && entitySplit(draft.entity) === opts.split) out.push({ category, ...draft });
  }
  return out;
}

const argText = (c: Call) => JSON.stringify(c.args);

function toolsOf(t: WorkplaceTask, opts: GenerateOptions) {
  return toolsFor(opts.tools === "all" ? DOMAINS : t.domains, opts.toolStyle ?? "upstream");
}

export function generateRows(opts: GenerateOptions): Record<string, unknown>[] {
  return generateTasks(opts).map((t) => ({
    responses_create_params: {
      input: [
        { role: "system", content: SYSTEM_PROMPT },
        { role: "user", content: t.prompt },
      ],
      tools: toolsOf(t, opts),
      parallel_tool_calls: false,
      temperature: 1.0,
    },
    ground_truth: t.calls.filter((c) => MUTATING.test(c.name)).map((c) => ({ name: c.name, arguments: argText(c) })),
    category: `workplace_assistant_${t.category}`,
    environment_name: "workplace_assistant",
    agent_ref: { type: "responses_api_agents", name: AGENT_NAME },
  }));
}

/**
 * system → user → (assistant tool call → tool answer)* → assistant "Done.", in OpenAI chat shape.
 * Tool answers are the server's exact response text (`{"output": ...}`), as simple_agent passes
 * it on, from the calls run in order on one fresh sandbox.
 */
export function demonstrations(opts: DemonstrationOptions): { messages: Record<string, unknown>[]; tools: unknown[] }[] {
  const ask = share("askFraction", opts.askFraction);
  const repeat = share("repeatFraction", opts.repeatFraction);
  return generateTasks(opts).map((t, k) => {
    const sb = newSandbox();
    const messages: Record<string, unknown>[] = [
      { role: "system", content: SYSTEM_PROMPT },
      { role: "user", content: t.prompt },
    ];
    const asking = asks(ask, opts.seed, k, t.prompt);
    const firstChange = t.calls.findIndex((c) => MUTATING.test(c.name));
    const lastChange = t.calls.findLastIndex((c) => MUTATING.test(c.name));
    const calls = asking
      ? t.calls.slice(0, firstChange)
      : repeats(repeat, opts.seed, k, t.prompt)
        ? [...t.calls.slice(0, lastChange + 1), t.calls[lastChange]!, ...t.calls.slice(lastChange + 1)]
        : t.calls;
    calls.forEach((c, j) => {
      const id = `call_${k}_${j}`;
      messages.push({ role: "assistant", content: "", tool_calls: [{ id, type: "function", function: { name: c.name, arguments: argText(c) } }] });
      messages.push({ role: "tool", tool_call_id: id, content: JSON.stringify(callTool(sb, c.name, c.args)) });
    });
    messages.push({ role: "assistant", content: asking ? CONFIRM_REPLY : FINAL_REPLY });
    return { messages, tools: toolsOf(t, opts).map(chatTool) };
  });
}
