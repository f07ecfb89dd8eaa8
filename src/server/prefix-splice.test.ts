import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PrefixSpliceError, replacePrefixTokens, requiredPrefixFromMessages } from "./prefix-splice.ts";

const EOS = 2;

describe("replacePrefixTokens", () => {
  it("returns the template when there is no model prefix", () => {
    expect(replacePrefixTokens([], [1, 2], [1, 2, 3], EOS)).toEqual([1, 2, 3]);
  });

  it("keeps the model's tokens and resumes the template at the matching EOS (reference example)", () => {
    const model = [11, 12, 13, 40, 41, 220, 17, 2];
    const templatePrefix = [11, 12, 13, 40, 41, 1001, 2];
    const template = [11, 12, 13, 40, 41, 1001, 2, 21, 22, 40, 41];
    expect(replacePrefixTokens(model, templatePrefix, template, EOS)).toEqual([
      11, 12, 13, 40, 41, 220, 17, 2, 21, 22, 40, 41,
    ]);
  });

  it("cuts at the last EOS of the template prefix", () => {
    expect(replacePrefixTokens([100, 2], [9, 2, 9, 2], [9, 2, 9, 2, 77, 88], EOS)).toEqual([100, 2, 77, 88]);
  });

  it("counts EOS rather than positions when the template strips earlier reasoning", () => {
    const model = [11, 12, 99, 99, 99, 55, 2];
    const templatePrefix = [11, 12, 88, 88, 88, 56, 2];
    const template = [11, 12, 56, 2, 70, 71, 2, 40, 41];
    expect(replacePrefixTokens(model, templatePrefix, template, EOS)).toEqual([
      11, 12, 99, 99, 99, 55, 2, 70, 71, 2, 40, 41,
    ]);
  });

  it("keeps a length-stopped generation whole and takes the EOS from the template", () => {
    const model = [11, 12, 99, 98]; // no EOS: stopped by max_tokens
    expect(replacePrefixTokens(model, [11, 12, 97, 2], [11, 12, 97, 2, 5, 6], EOS)).toEqual([11, 12, 99, 98, 2, 5, 6]);
  });

  it("refuses a template prefix without EOS", () => {
    expect(() => replacePrefixTokens([1, 2], [1, 3], [1, 3, 4], EOS)).toThrow(PrefixSpliceError);
  });

  it("refuses a template with fewer EOS than its own prefix", () => {
    expect(() => replacePrefixTokens([1, 2], [1, 2, 1, 2], [1, 2, 4], EOS)).toThrow(/not prefix-preserving/);
  });
});

describe("replacePrefixTokens on real Qwen3 ids (NeMo RL fixture)", () => {
  const fixture = JSON.parse(
    readFileSync(new URL("../../test/fixtures/nemo-rl/replace_prefix_qwen3.json", import.meta.url), "utf8"),
  ) as { model_token_ids: number[]; template_token_ids: number[] };
  const QWEN_EOS = 151645; // <|im_end|>
  const model = fixture.model_token_ids;
  const template = fixture.template_token_ids;
  // The model's ids differ from the canonical template ids inside the assistant turn that ends at
  // the third <|im_end|>; the splice must keep the model's version.
  const eosPositions = template.flatMap((t, i) => (t === QWEN_EOS ? [i] : []));
  const lastAssistantEos = eosPositions[2];

  it("the fixture differs between model and template ids before the splice point", () => {
    const firstDiff = model.findIndex((t, i) => t !== template[i]);
    expect(firstDiff).toBeGreaterThan(0);
    expect(firstDiff).toBeLessThan(lastAssistantEos);
  });

  for (const modelHasEos of [true, false]) {
    for (const prefixEnd of ["eos", "eos+newline"] as const) {
      it(`reproduces the model ids (model prefix ${modelHasEos ? "with" : "without"} EOS, template prefix ending at ${prefixEnd})`, () => {
        const modelPrefix = model.slice(0, lastAssistantEos + (modelHasEos ? 1 : 0));
        const templatePrefix = template.slice(0, lastAssistantEos + (prefixEnd === "eos" ? 1 : 2));
        expect(replacePrefixTokens(modelPrefix, templatePrefix, template, QWEN_EOS)).toEqual(model);
      });
    }
  }
});

describe("requiredPrefixFromMessages", () => {
  it("takes the last message carrying token ids", () => {
    const messages = [
      { role: "user" },
      { role: "assistant", prompt_token_ids: [1], generation_token_ids: [2] },
      { role: "tool" },
      { role: "assistant", prompt_token_ids: [1, 2, 3], generation_token_ids: [4, 5] },
      { role: "user" },
    ];
    expect(requiredPrefixFromMessages(messages)).toEqual([1, 2, 3, 4, 5]);
  });

  it("is null on a first turn", () => {
    expect(requiredPrefixFromMessages([{ role: "user" } as object])).toBeNull();
  });

  it("rejects a turn with prompt ids but no generation ids", () => {
    expect(() => requiredPrefixFromMessages([{ role: "assistant", prompt_token_ids: [1] }])).toThrow(PrefixSpliceError);
  });

  it("rejects a later assistant turn without ids, naming it, since the turns between would vanish", () => {
    const messages = [
      { role: "user" },
      { role: "assistant", prompt_token_ids: [1], generation_token_ids: [2] },
      { role: "user" },
      { role: "assistant", content: "no ids" },
      { role: "tool" },
      { role: "assistant", content: "no ids either" },
      { role: "user" },
    ];
    let err: PrefixSpliceError | undefined;
    try {
      requiredPrefixFromMessages(messages);
    } catch (e) {
      err = e as PrefixSpliceError;
    }
    expect(err).toBeInstanceOf(PrefixSpliceError);
    expect(err!.message).toMatch(/^messages\[3\] \(assistant\) has no token ids but comes after messages\[1\]/);
    expect(err!.param).toBe("messages[3]");
  });

  it("accepts ids on the last assistant turn whatever earlier turns carry", () => {
    const messages = [
      { role: "user" },
      { role: "assistant", content: "no ids" },
      { role: "user" },
      { role: "assistant", prompt_token_ids: [1, 2], generation_token_ids: [3] },
      { role: "tool" },
    ];
    expect(requiredPrefixFromMessages(messages)).toEqual([1, 2, 3]);
  });

  it("rejects token ids on a message that is not an assistant turn", () => {
    const messages = [{ role: "user", prompt_token_ids: [1], generation_token_ids: [2] }];
    expect(() => requiredPrefixFromMessages(messages)).toThrow(/messages\[0\] \(user\) carries prompt_token_ids/);
  });
});
