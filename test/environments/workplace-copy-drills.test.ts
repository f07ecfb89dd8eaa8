/**
 * The copy curriculum's drills: every free value of a demonstration changes, the same way wherever
 * it appears (request, calls, tool answers), everything else stays; echo drills repeat what they
 * quote. Checked from the conversations themselves, not from the module's replacement table.
 */
import { describe, expect, test } from "vitest";
import { rng } from "../../src/environments/_shared/generate.ts";
import { copyCurriculum, copyDrill, echoDrills, type Chat } from "../../src/environments/workplace_assistant/copy-drills.ts";
import { CONFIRM_REPLY, demonstrations } from "../../src/environments/workplace_assistant/tasks.ts";
import { MUTATING } from "../../src/environments/workplace_assistant/templates.ts";

type Args = Record<string, unknown>;
const calls = (c: Chat) => c.messages.flatMap((m) => ((m.tool_calls as { function: { name: string; arguments: string } }[] | undefined) ?? []).map((t) => ({ name: t.function.name, args: JSON.parse(t.function.arguments) as Args })));
const request = (c: Chat) => String(c.messages.find((m) => m.role === "user")!.content);
const answers = (c: Chat) => c.messages.filter((m) => m.role === "tool").map((m) => String(m.content)).join("\n");

const REPLACED = ["subject", "body", "event_name", "task_name", "customer_name", "event_id", "email_id", "task_id", "customer_id"];

describe("copyDrill", () => {
  const demos = demonstrations({ split: "train", n: 120, seed: 1, tools: "category", toolStyle: "compact" });
  const drills = (seed: string) => {
    const rand = rng(seed);
    return demos.map((d) => copyDrill(d, rand));
  };

  test("free values change consistently; structure and enum values stay", () => {
    const out = drills("t1");
    let replaced = 0;
    out.forEach((drill, k) => {
      const demo = demos[k]!;
      const [before, after] = [calls(demo), calls(drill)];
      expect(after.map((c) => c.name)).toEqual(before.map((c) => c.name));
      expect(drill.messages.map((m) => m.role)).toEqual(demo.messages.map((m) => m.role));
      expect(drill.tools).toEqual(demo.tools);
      before.forEach((c, i) => {
        for (const [key, value] of Object.entries(c.args)) {
          const now = after[i]!.args[key];
          if (typeof value !== "string") expect(now).toEqual(value);
          else if (REPLACED.includes(key) || key === "name" || (key === "new_value" && c.args.field === "event_name") || /@atlas\.com$/.test(value)) {
            expect(now, `${c.name}.${key}`).not.toBe(value);
            replaced++;
            // stated in the request before: stated in the drill's request now, and the old value is gone from it
            if (request(demo).includes(value)) {
              expect(request(drill)).toContain(now as string);
              expect(request(drill)).not.toContain(value);
            }
            // read from a tool's answer before (an id, an address): found in the drill's answers now
            if (answers(demo).includes(value)) expect(answers(drill)).toContain(now as string);
          } else expect(now, `${c.name}.${key}`).toBe(value);
        }
      });
      // an 8-digit id is written the same way in every later call
      const ids = after.flatMap((c) => Object.entries(c.args).filter(([k]) => /_id$/.test(k)).map(([, v]) => v));
      for (const id of ids) expect(id).toMatch(/^\d{8}$/);
    });
    expect(replaced).toBeGreaterThan(200);
  });

  test("a seed fixes the drills; another seed changes them", () => {
    expect(drills("t2")).toEqual(drills("t2"));
    expect(drills("t2")).not.toEqual(drills("t3"));
  });
});

describe("echoDrills", () => {
  test("the reply repeats the quoted words, bare or as a JSON note", () => {
    const chats = echoDrills(300, rng("echo-test"));
    const styles = new Set<string>();
    for (const c of chats) {
      const quoted = request(c).match(/"(.*)"/)![1]!;
      expect(quoted.split(" ").length).toBeGreaterThanOrEqual(2);
      const reply = String(c.messages[1]!.content);
      if (reply.startsWith("{")) {
        expect(JSON.parse(reply)).toEqual({ note: quoted });
        styles.add("note");
      } else {
        expect(reply).toBe(quoted);
        styles.add(request(c).split(" ")[0]!);
      }
    }
    expect([...styles].sort()).toEqual(["Repeat", "Say", "note"]);
  });
});

describe("copyCurriculum", () => {
  test("real demonstrations with their tools, value drills mostly without, then echo drills", () => {
    const chats = copyCurriculum({ n: 30, seed: 1 });
    const real = demonstrations({ split: "train", n: 30, seed: 1, tools: "category", toolStyle: "compact" });
    expect(chats.slice(0, 30)).toEqual(real);
    const drills = chats.slice(30, 30 + 300);
    expect(drills.every((c) => calls(c).length > 0)).toBe(true);
    const withTools = drills.filter((c) => (c.tools ?? []).length > 0).length / drills.length;
    expect(withTools).toBeGreaterThan(0.3);
    expect(withTools).toBeLessThan(0.5);
    const echoes = chats.slice(330);
    expect(echoes).toHaveLength(300);
    expect(echoes.every((c) => c.messages.length === 2 && calls(c).length === 0)).toBe(true);
  });
});

describe("copyCurriculum askFraction", () => {
  test("conversations with a tool list ask at about the fraction, before any changing call; drills without one always act", () => {
    const chats = copyCurriculum({ n: 200, seed: 1, drills: 600, echoes: 0, askFraction: 0.7 });
    const withTools = chats.filter((c) => (c.tools ?? []).length > 0);
    const without = chats.filter((c) => (c.tools ?? []).length === 0);
    const asking = (c: Chat) => c.messages.at(-1)!.content === CONFIRM_REPLY;
    const changes = (c: Chat) => calls(c).filter((x) => MUTATING.test(x.name)).length;
    const share = withTools.filter(asking).length / withTools.length;
    expect(share).toBeGreaterThan(0.6);
    expect(share).toBeLessThan(0.8);
    for (const c of withTools) expect(changes(c) === 0).toBe(asking(c));
    expect(without.length).toBeGreaterThan(300);
    expect(without.every((c) => !asking(c) && changes(c) > 0)).toBe(true);
    // an asking drill is its acting drill cut before the change: the same look-ups with the same values
    const acting = copyCurriculum({ n: 200, seed: 1, drills: 600, echoes: 0 });
    const cut = chats.map((c, k) => [c, acting[k]!] as const).filter(([c]) => asking(c) && calls(c).length > 0);
    expect(cut.length).toBeGreaterThan(50);
    for (const [c, a] of cut) {
      expect(request(c)).toBe(request(a));
      expect(calls(c)).toEqual(calls(a).slice(0, calls(c).length));
    }
  });
});

describe("copyCurriculum repeatFraction", () => {
  test("demonstrations and value drills, with or without the tool list, repeat their last change at about the fraction; the repeat carries the drill's replaced values", () => {
    const plain = copyCurriculum({ n: 100, seed: 2, drills: 400, echoes: 0 });
    const chats = copyCurriculum({ n: 100, seed: 2, drills: 400, echoes: 0, repeatFraction: 0.6 });
    expect(chats.length).toBe(plain.length);
    const changes = (c: Chat) => calls(c).filter((x) => MUTATING.test(x.name));
    const repeated = chats.filter((c, k) => changes(c).length === changes(plain[k]!).length + 1);
    const share = repeated.length / chats.length;
    expect(share).toBeGreaterThan(0.5);
    expect(share).toBeLessThan(0.7);
    expect(repeated.some((c) => (c.tools ?? []).length === 0)).toBe(true);
    expect(repeated.some((c) => (c.tools ?? []).length > 0)).toBe(true);
    for (const [k, c] of chats.entries()) {
      const extra = changes(c).length - changes(plain[k]!).length;
      expect(extra === 0 || extra === 1).toBe(true);
      if (extra === 0) continue;
      const ch = changes(c);
      expect(ch.at(-1)).toEqual(ch.at(-2)); // the same call, values included
      expect(request(c)).toBe(request(plain[k]!));
    }
  });
});
