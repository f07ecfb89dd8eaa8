/**
 * Where @huggingface/jinja 0.5.11 differs from Python's Jinja on chat templates, and the fix.
 *
 * `s.strip(chars)`, `s.lstrip(chars)` and `s.rstrip(chars)` ignore `chars` there and trim all
 * whitespace (JavaScript's trim). Qwen3's template calls `reasoning_content.strip('\n')` and
 * `content.lstrip('\n')`, so content that starts with a space would lose it and the prompt would
 * differ from vLLM's. `pythonizeStringMethods` rewrites every such call in a parsed template into a
 * call of a context function with Python's semantics (`PY_STRING_METHODS`).
 */

/** Python's str.isspace() characters (JavaScript's trim differs: no \x1c-\x1f or \x85, adds \ufeff). */
const PY_WHITESPACE = new Set(
  "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" +
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a",
);

function pyStrip(s: string, chars: string | null | undefined, left: boolean, right: boolean): string {
  if (typeof s !== "string") throw new TypeError(`strip() called on ${typeof s}, expected a string`);
  const strip =
    chars === null || chars === undefined ? (c: string) => PY_WHITESPACE.has(c) : (c: string) => chars.includes(c);
  let start = 0;
  let end = s.length;
  if (left) while (start < end && strip(s[start])) start++;
  if (right) while (end > start && strip(s[end - 1])) end--;
  return s.slice(start, end);
}

const METHODS = { strip: "__py_strip", lstrip: "__py_lstrip", rstrip: "__py_rstrip" } as const;

/** Functions to put in the render context of a template passed through pythonizeStringMethods. */
export const PY_STRING_METHODS = {
  __py_strip: (s: string, chars?: string | null) => pyStrip(s, chars, true, true),
  __py_lstrip: (s: string, chars?: string | null) => pyStrip(s, chars, true, false),
  __py_rstrip: (s: string, chars?: string | null) => pyStrip(s, chars, false, true),
};

interface Node {
  type: string;
  [field: string]: unknown;
}

const isNode = (x: unknown): x is Node => typeof x === "object" && x !== null && typeof (x as Node).type === "string";

/** Rewrite `x.strip(a)` into `__py_strip(x, a)` (same for lstrip/rstrip), in place, in a parsed template. */
export function pythonizeStringMethods(program: object): void {
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (!isNode(value)) return;
    for (const field of Object.values(value)) visit(field);
    if (value.type !== "CallExpression") return;
    const callee = value.callee as Node;
    if (callee.type !== "MemberExpression" || callee.computed) return;
    const property = callee.property as Node;
    if (property.type !== "Identifier" || !Object.hasOwn(METHODS, property.value as string)) return;
    property.value = METHODS[property.value as keyof typeof METHODS];
    value.args = [callee.object, ...(value.args as unknown[])];
    value.callee = property;
  };
  visit(program);
}
