/**
 * A compiled renderer for the chat templates @huggingface/jinja parses, with the library's own
 * semantics, for speed: the library's interpreter wraps every intermediate value in a class
 * instance whose field initialisers V8 runs through a megamorphic slow path (~1 µs per value on
 * Node 20), so it spends most of a chat render allocating. Here the parsed template becomes a tree
 * of closures over plain JavaScript values.
 *
 * It is never a second opinion on the output. `compileTemplate` returns null for a template that
 * uses a construct it does not cover (macros, literals of lists, filters other than the few below,
 * ...), and `render` returns null, never a guess, whenever the data leads somewhere it does not
 * model exactly (arithmetic on floats, comparisons across types, unknown methods, anything that
 * would make the library throw): the caller then renders with the library. Where it answers, the
 * answer is the library's, character for character (tested differentially, jinja-compile.test.ts).
 *
 * Values: JavaScript strings, numbers (an integer is the library's IntegerValue, any other number a
 * FloatValue; arithmetic is done on integers only, so an integral FloatValue never arises), booleans,
 * null (NullValue), undefined (UndefinedValue), arrays, plain objects (ObjectValue), Namespace, and
 * HostFunction (a function passed in the context). Context objects are read in place, not copied.
 */

import {
  type Value,
  Bail,
  Namespace,
  HostFunction,
  convertible,
  output,
  member,
  truthy,
  isPlainObject,
  isOwnEntry,
  isScalar,
  integer,
  isSliceBound,
  slice,
  toJson,
} from "./jinja-values.ts";

type Node = { type: string; [field: string]: unknown };

/** A construct the compiler does not cover: the whole template falls back to the interpreter. */
class Unsupported extends Error {}

/** The library's global functions: `namespace` is modelled, the others are left to the library. */
const NAMESPACE = Symbol("namespace");
const LIBRARY_FUNCTION = Symbol("library function");

/** Names the library declares before the context; a context key among them makes it throw. */
const GLOBALS = new Map<string, Value>([
  ["namespace", NAMESPACE],
  ["false", false],
  ["true", true],
  ["none", null],
  ["raise_exception", LIBRARY_FUNCTION],
  ["range", LIBRARY_FUNCTION],
  ["strftime_now", LIBRARY_FUNCTION],
  ["True", true],
  ["False", false],
  ["None", null],
]);

class Scope {
  readonly vars = new Map<string, Value>();
  constructor(readonly parent: Scope | null) {}

  lookup(name: string): Value {
    const v = this.vars.get(name);
    if (v !== undefined || this.vars.has(name)) return v;
    return this.parent === null ? undefined : this.parent.lookup(name);
  }
}

/** The library's globals, below each render's own scope (a top-level `set` shadows them there). */
const LIBRARY_SCOPE = new Scope(null);
for (const [k, v] of GLOBALS) LIBRARY_SCOPE.vars.set(k, v);

type Expr = (scope: Scope) => Value;
type Block = (scope: Scope) => string;

export interface CompiledTemplate {
  /** The rendered text, or null when the library must render this context itself. */
  render(context: Record<string, unknown>): string | null;
}

/** Compile a parsed template (`new Template(src).parsed`), or null when it uses an uncovered construct. */
export function compileTemplate(program: object): CompiledTemplate | null {
  let body: Block;
  try {
    body = compileBlock((program as Node).body as Node[]);
  } catch (e) {
    if (e instanceof Unsupported) return null;
    throw e;
  }
  return {
    render(context) {
      const global = new Scope(LIBRARY_SCOPE);
      for (const [k, v] of Object.entries(context)) {
        if (GLOBALS.has(k)) return null; // the library throws "Variable already declared"
        if (!convertible(v)) return null; // the library throws while converting the context
        global.vars.set(k, typeof v === "function" ? new HostFunction(v as (...args: unknown[]) => unknown) : v);
      }
      try {
        return body(global);
      } catch {
        // A Bail, or anything unexpected: either way the library's own render decides.
        return null;
      }
    },
  };
}

// ------------------------------------------------------------------------------------------------
// statements

function compileBlock(nodes: readonly Node[]): Block {
  const parts = nodes.map(compileStatement);
  if (parts.length === 1) return parts[0];
  return (scope) => {
    let out = "";
    for (const p of parts) out += p(scope);
    return out;
  };
}

function compileStatement(node: Node): Block {
  switch (node.type) {
    case "If": {
      const test = compileExpr(node.test as Node);
      const body = compileBlock(node.body as Node[]);
      const alternate = compileBlock(node.alternate as Node[]);
      return (scope) => (truthy(test(scope)) ? body(scope) : alternate(scope));
    }
    case "For":
      return compileFor(node);
    case "Set":
      return compileSet(node);
    case "Comment":
      return () => "";
    default: {
      const expr = compileExpr(node);
      return (scope) => output(expr(scope));
    }
  }
}

function compileFor(node: Node): Block {
  const loopvar = node.loopvar as Node;
  if (loopvar.type !== "Identifier") throw new Unsupported("for: tuple loop variable");
  const iterableNode = node.iterable as Node;
  if (iterableNode.type === "SelectExpression") throw new Unsupported("for: inline if");
  const name = loopvar.value as string;
  const iterable = compileExpr(iterableNode);
  const body = compileBlock(node.body as Node[]);
  const defaultBlock = compileBlock((node.defaultBlock as Node[] | undefined) ?? []);
  return (outer) => {
    const scope = new Scope(outer);
    const it = iterable(scope);
    let items: readonly Value[];
    if (Array.isArray(it)) items = it;
    else if (isPlainObject(it)) items = Object.keys(it);
    else throw new Bail("for over a non-iterable");
    const n = items.length;
    let out = "";
    for (let i = 0; i < n; i++) {
      scope.vars.set("loop", {
        index: i + 1,
        index0: i,
        revindex: n - i,
        revindex0: n - i - 1,
        first: i === 0,
        last: i === n - 1,
        length: n,
        previtem: i > 0 ? items[i - 1] : undefined,
        nextitem: i < n - 1 ? items[i + 1] : undefined,
      });
      scope.vars.set(name, items[i]);
      out += body(scope);
    }
    if (n === 0) out += defaultBlock(scope);
    return out;
  };
}

function compileSet(node: Node): Block {
  const value = node.value ? compileExpr(node.value as Node) : compileBlock(node.body as Node[]);
  const assignee = node.assignee as Node;
  if (assignee.type === "Identifier") {
    const name = assignee.value as string;
    return (scope) => {
      scope.vars.set(name, value(scope));
      return "";
    };
  }
  if (assignee.type === "MemberExpression") {
    const property = assignee.property as Node;
    if (assignee.computed || property.type !== "Identifier") throw new Unsupported("set: computed member");
    const object = compileExpr(assignee.object as Node);
    const key = property.value as string;
    return (scope) => {
      const v = value(scope);
      const ns = object(scope);
      if (!(ns instanceof Namespace)) throw new Bail("set on a non-namespace");
      ns.map.set(key, v);
      return "";
    };
  }
  throw new Unsupported(`set: ${assignee.type}`);
}

// ------------------------------------------------------------------------------------------------
// expressions

function compileExpr(node: Node | undefined | null): Expr {
  if (!node) return () => undefined;
  switch (node.type) {
    case "StringLiteral": {
      const v = node.value as string;
      return () => v;
    }
    case "IntegerLiteral": {
      const v = node.value as number;
      if (!Number.isInteger(v)) throw new Unsupported("non-integral integer literal");
      return () => v;
    }
    case "Identifier": {
      const name = node.value as string;
      return (scope) => {
        const v = scope.lookup(name);
        if (v === NAMESPACE || v === LIBRARY_FUNCTION) throw new Bail(`${name} as a value`);
        return v;
      };
    }
    case "MemberExpression":
      return compileMember(node);
    case "CallExpression":
      return compileCall(node);
    case "UnaryExpression":
      return compileUnary(node);
    case "BinaryExpression":
      return compileBinary(node);
    case "FilterExpression":
      return compileFilter(node);
    case "TestExpression":
      return compileTest(node);
    case "Ternary": {
      const condition = compileExpr(node.condition as Node);
      const a = compileExpr(node.trueExpr as Node);
      const b = compileExpr(node.falseExpr as Node | undefined);
      return (scope) => (truthy(condition(scope)) ? a(scope) : b(scope));
    }
    default:
      throw new Unsupported(node.type);
  }
}

function compileMember(node: Node): Expr {
  const object = compileExpr(node.object as Node);
  const propertyNode = node.property as Node;
  if (node.computed && propertyNode.type === "SliceExpression") {
    const start = compileExpr(propertyNode.start as Node | undefined);
    const stop = compileExpr(propertyNode.stop as Node | undefined);
    const step = compileExpr(propertyNode.step as Node | undefined);
    return (scope) => {
      const o = object(scope);
      const a = start(scope);
      const b = stop(scope);
      const c = step(scope);
      if (!isSliceBound(a) || !isSliceBound(b) || !isSliceBound(c)) throw new Bail("slice bounds");
      if (Array.isArray(o)) return slice(o, a, b, c);
      if (typeof o === "string") return slice(Array.from(o), a, b, c).join("");
      throw new Bail("slice of a non-sequence");
    };
  }
  let property: Expr;
  if (node.computed) property = compileExpr(propertyNode);
  else if (propertyNode.type === "Identifier" || propertyNode.type === "IntegerLiteral") {
    const key = propertyNode.value;
    property = () => key;
  } else throw new Unsupported(`member: ${propertyNode.type}`);
  return (scope) => member(object(scope), property(scope));
}

function compileCall(node: Node): Expr {
  const argNodes = node.args as Node[];
  const positional: Expr[] = [];
  const keywords: Array<[string, Expr]> = [];
  for (const a of argNodes) {
    if (a.type === "KeywordArgumentExpression") keywords.push([(a.key as Node).value as string, compileExpr(a.value as Node)]);
    else if (a.type === "SpreadExpression" || a.type === "KeywordSpreadExpression") throw new Unsupported("spread");
    else positional.push(compileExpr(a));
  }
  const callee = node.callee as Node;

  if (callee.type === "MemberExpression" && !callee.computed && (callee.property as Node).type === "Identifier") {
    const object = compileExpr(callee.object as Node);
    const method = (callee.property as Node).value as string;
    if (method !== "startswith" && method !== "endswith" && method !== "split") {
      return () => {
        throw new Bail(`method ${method}`);
      };
    }
    return (scope) => {
      const args = evaluateAll(positional, scope);
      if (keywords.length > 0) throw new Bail("method keywords");
      const s = object(scope);
      if (typeof s !== "string") throw new Bail(`${method} of a non-string`);
      if (args.length < 1 || typeof args[0] !== "string") throw new Bail(`${method} arguments`);
      if (method === "startswith") return s.startsWith(args[0]);
      if (method === "endswith") return s.endsWith(args[0]);
      if (args.length !== 1 || args[0] === "") throw new Bail("split arguments");
      return s.split(args[0]);
    };
  }

  if (callee.type !== "Identifier") throw new Unsupported(`call of ${callee.type}`);
  const name = callee.value as string;
  return (scope) => {
    const args = evaluateAll(positional, scope);
    const kwargs = new Map<string, Value>();
    for (const [k, e] of keywords) {
      if (kwargs.has(k)) throw new Bail("duplicate keyword");
      kwargs.set(k, e(scope));
    }
    const fn = scope.lookup(name);
    if (fn === NAMESPACE) {
      if (args.length > 0) throw new Bail("namespace with positional arguments");
      return new Namespace(kwargs);
    }
    if (fn instanceof HostFunction) {
      if (kwargs.size > 0) throw new Bail("host function keywords");
      for (const a of args) if (!isScalar(a)) throw new Bail("host function argument");
      const result = fn.fn(...args) ?? null;
      if (!isScalar(result)) throw new Bail("host function result");
      return result;
    }
    throw new Bail(`call of ${name}`);
  };
}

/** Argument values, left to right (a loop: no closure per call on the hot path). */
function evaluateAll(exprs: readonly Expr[], scope: Scope): Value[] {
  const out = new Array<Value>(exprs.length);
  for (let i = 0; i < exprs.length; i++) out[i] = exprs[i](scope);
  return out;
}

function compileUnary(node: Node): Expr {
  const argument = compileExpr(node.argument as Node);
  const op = (node.operator as Node).value as string;
  if (op === "not") return (scope) => !truthy(argument(scope));
  if (op === "-" || op === "+") {
    const sign = op === "-" ? -1 : 1;
    return (scope) => {
      const v = argument(scope);
      if (typeof v !== "number") throw new Bail(`unary ${op}`);
      return Number.isInteger(v) ? integer(sign * v) : sign * v;
    };
  }
  throw new Unsupported(`unary ${op}`);
}

function compileBinary(node: Node): Expr {
  const left = compileExpr(node.left as Node);
  const right = compileExpr(node.right as Node);
  const op = (node.operator as Node).value as string;
  switch (op) {
    case "and":
      return (scope) => {
        const l = left(scope);
        return truthy(l) ? right(scope) : l;
      };
    case "or":
      return (scope) => {
        const l = left(scope);
        return truthy(l) ? l : right(scope);
      };
    case "==":
    case "!=": {
      const negate = op === "!=";
      return (scope) => {
        const l = left(scope);
        const r = right(scope);
        if (!isScalar(l) || !isScalar(r)) throw new Bail("== on non-scalars");
        // The library compares with JavaScript's loose equality (so none == undefined).
        return negate ? l != r : l == r;
      };
    }
    case "in":
    case "not in": {
      const negate = op === "not in";
      return (scope) => {
        const l = left(scope);
        const r = right(scope);
        if (r === undefined) return negate; // checked before the left side, as the library does
        if (l === undefined || l === null || r === null) throw new Bail("in on none/undefined");
        let found: boolean;
        if (Array.isArray(r)) {
          if (!isScalar(l)) throw new Bail("in with a non-scalar");
          found = r.indexOf(l) !== -1; // strict equality, as the library's find(x => x.value === l)
        } else if (typeof l === "string" && typeof r === "string") found = r.includes(l);
        else if (typeof l === "string" && isPlainObject(r)) found = isOwnEntry(r, l);
        else throw new Bail("in between these types");
        return negate ? !found : found;
      };
    }
    case "+":
      return (scope) => {
        const l = left(scope);
        const r = right(scope);
        if (typeof l === "string" && typeof r === "string") return l + r;
        if (Number.isInteger(l) && Number.isInteger(r)) return integer((l as number) + (r as number));
        throw new Bail("+ between these types");
      };
    case "-":
      return (scope) => {
        const l = left(scope);
        const r = right(scope);
        if (Number.isInteger(l) && Number.isInteger(r)) return integer((l as number) - (r as number));
        throw new Bail("- between these types");
      };
    case "<":
    case ">":
    case "<=":
    case ">=":
      return (scope) => {
        const l = left(scope);
        const r = right(scope);
        if (typeof l !== "number" || typeof r !== "number") throw new Bail(`${op} between non-numbers`);
        return op === "<" ? l < r : op === ">" ? l > r : op === "<=" ? l <= r : l >= r;
      };
    default:
      return () => {
        throw new Bail(`operator ${op}`);
      };
  }
}

function compileFilter(node: Node): Expr {
  const filter = node.filter as Node;
  if (filter.type !== "Identifier") throw new Unsupported("filter with arguments");
  const operand = compileExpr(node.operand as Node);
  switch (filter.value) {
    case "length":
      return (scope) => {
        const v = operand(scope);
        if (Array.isArray(v) || typeof v === "string") return v.length;
        if (isPlainObject(v)) return Object.keys(v).length;
        throw new Bail("length of this type");
      };
    case "tojson":
      return (scope) => toJson(operand(scope));
    case "safe":
      return operand;
    case "trim":
      return (scope) => {
        const v = operand(scope);
        if (typeof v !== "string") throw new Bail("trim of a non-string");
        return v.trim();
      };
    default:
      throw new Unsupported(`filter ${String(filter.value)}`);
  }
}

const TESTS: Record<string, (v: Value) => boolean> = {
  defined: (v) => v !== undefined,
  undefined: (v) => v === undefined,
  none: (v) => v === null,
  string: (v) => typeof v === "string",
  boolean: (v) => typeof v === "boolean",
  false: (v) => v === false,
  true: (v) => v === true,
  number: (v) => typeof v === "number",
  integer: (v) => Number.isInteger(v),
  iterable: (v) => Array.isArray(v) || typeof v === "string",
  mapping: (v) => isPlainObject(v),
  sequence: (v) => Array.isArray(v) || typeof v === "string" || isPlainObject(v),
};

function compileTest(node: Node): Expr {
  const operand = compileExpr(node.operand as Node);
  const testNode = node.test as Node;
  const test = testNode.type === "Identifier" && Object.hasOwn(TESTS, testNode.value as string) ? TESTS[testNode.value as string] : null;
  if (test === null) {
    return () => {
      throw new Bail("test");
    };
  }
  const negate = node.negate === true;
  return (scope) => test(operand(scope)) !== negate;
}

// ------------------------------------------------------------------------------------------------
// the library's helpers, on plain values
