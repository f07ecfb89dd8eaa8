/**
 * Hostile request bodies for the HTTP fuzzer (fast-check arbitraries): wrong types, huge numbers,
 * deep nesting, invalid UTF-8, truncated JSON, oversized bodies and unknown fields. Each body is
 * raw bytes plus whether it is a well-formed JSON object: only those may be accepted (2xx), since
 * NeMo Gym's request models allow unknown fields; everything else must be a 4xx.
 */
import fc from "fast-check";

export interface FuzzBody {
  kind: string;
  bytes: Buffer;
  /** A well-formed JSON object, which an endpoint may legitimately accept. */
  mayBeAccepted: boolean;
}

/** Field names the servers read, so hostile values land where handlers look. */
const FIELDS = [
  "messages", "model", "prompt", "tokens", "max_tokens", "temperature", "top_p", "n", "tools", "stream", "logprobs",
  "input", "responses_create_params", "response", "verify_responses", "expected_answer", "options", "question",
  "expression", "a", "b", "city", "arguments", "output", "prompt_token_ids", "generation_token_ids", "__proto__", "constructor",
];

const hugeNumberText = fc.constantFrom("1e999", "-1e999", "1e308", "-1e308", "9007199254740993", "123456789012345678901234567890", "-0", "0.0000000000000000000001", "1E+400");

const wrongType = fc.oneof(
  fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 20 }), fc.constant([]), fc.constant({}),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxLength: 4 }),
);

const fieldName = fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 12 }));

/** An object of known and unknown fields with values of the wrong type. */
const wrongTypes = fc.dictionary(fieldName, wrongType, { minKeys: 1, maxKeys: 5 }).map((o) => JSON.stringify(o));

/** An object whose known fields hold numbers JSON.parse turns into Infinity, -0 or lost precision. */
const hugeNumbers = fc
  .array(fc.tuple(fc.constantFrom(...FIELDS), hugeNumberText, fc.boolean()), { minLength: 1, maxLength: 4 })
  .map((fields) => `{${fields.map(([k, v, inArray]) => `${JSON.stringify(k)}:${inArray ? `[${v},${v}]` : v}`).join(",")}}`);

/** Nesting deep enough to overflow a recursive walk (handlers and zod recurse). */
const deepNesting = fc
  .tuple(fc.constantFrom(...FIELDS), fc.integer({ min: 1_000, max: 120_000 }), fc.constantFrom("[", '{"x":'))
  .map(([k, depth, open]) => {
    const close = open === "[" ? "]" : "}";
    return `{${JSON.stringify(k)}:${open.repeat(depth)}1${close.repeat(depth)}}`;
  });

/** A plausible request cut short. */
const truncated = fc
  .tuple(fc.dictionary(fc.constantFrom(...FIELDS), wrongType, { minKeys: 1, maxKeys: 4 }), fc.double({ min: 0, max: 0.999, noNaN: true }))
  .map(([o, at]) => {
    const t = JSON.stringify(o);
    return t.slice(0, Math.max(1, Math.floor(t.length * at)));
  });

/** Not JSON at all. */
const garbage = fc.oneof(
  fc.constantFrom("{", "}", "[", "nul", "{'a': 1}", '{"a":1,}', "NaN", "Infinity", '{"a": undefined}', "\u0000", "<xml/>"),
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !parses(s)),
);

/** Bytes that are not UTF-8 inside an otherwise valid JSON object. */
const invalidUtf8 = fc
  .tuple(fc.constantFrom(...FIELDS), fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(0xff, 0xfe, 0xc0, 0x80, 0xed))
  .map(([k, extra, bad]) => Buffer.concat([Buffer.from(`{${JSON.stringify(k)}:"`), Buffer.from([bad, ...extra.map((b) => b | 0x80)]), Buffer.from('"}')]));

function parses(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/** Every kind; `oversizeBytes` is a size over the target's body limit. */
export function hostileBody(oversizeBytes: number): fc.Arbitrary<FuzzBody> {
  const text = (kind: string, a: fc.Arbitrary<string>) =>
    a.map((s): FuzzBody => {
      const value = parseOrUndefined(s);
      return { kind, bytes: Buffer.from(s, "utf8"), mayBeAccepted: isPlainObject(value) };
    });
  return fc.oneof(
    { weight: 3, arbitrary: text("wrong_types", wrongTypes) },
    { weight: 2, arbitrary: text("top_level_non_object", wrongType.map((v) => JSON.stringify(v))) },
    { weight: 2, arbitrary: text("huge_numbers", hugeNumbers) },
    { weight: 1, arbitrary: text("deep_nesting", deepNesting) },
    { weight: 2, arbitrary: text("truncated_json", truncated) },
    { weight: 2, arbitrary: text("not_json", garbage) },
    { weight: 2, arbitrary: invalidUtf8.map((bytes): FuzzBody => ({ kind: "invalid_utf8", bytes, mayBeAccepted: false })) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 64 * 1024 }).map((extra): FuzzBody => ({
        kind: "oversized",
        bytes: Buffer.from(`{"messages":"${"x".repeat(oversizeBytes + extra)}"}`),
        mayBeAccepted: false,
      })),
    },
  );
}

function parseOrUndefined(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function isPlainObject(v: unknown): boolean {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
