/**
 * Response checks shared by the dialect clients: each returns the value typed, or throws an
 * invalid-response error naming the replica, the route and the field. Hand-written loops rather
 * than a schema library: they run on every generated token list and stay a few ns per item.
 */
import { invalidResponse } from "./errors.ts";

export class Checker {
  constructor(
    readonly url: string,
    readonly route: string,
  ) {}

  fail(field: string, problem: string): never {
    throw invalidResponse(this.url, this.route, field, problem);
  }

  object(v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(field, v === undefined ? "is missing" : "is not an object");
    return v as Record<string, unknown>;
  }

  array(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) this.fail(field, v === undefined || v === null ? "is missing" : "is not a list");
    return v;
  }

  tokenIds(v: unknown, field: string): number[] {
    const a = this.array(v, field);
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (!Number.isSafeInteger(x) || (x as number) < 0) this.fail(`${field}[${i}]`, `is ${JSON.stringify(x)}, not a token id`);
    }
    return a as number[];
  }

  logprobs(v: unknown, field: string): number[] {
    const a = this.array(v, field);
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      if (typeof x !== "number" || Number.isNaN(x) || x > 1e-6) this.fail(`${field}[${i}]`, `is ${JSON.stringify(x)}, not a log-probability`);
    }
    return a as number[];
  }

  int(v: unknown, field: string): number {
    if (!Number.isSafeInteger(v) || (v as number) < 0) this.fail(field, v === undefined ? "is missing" : `is ${JSON.stringify(v)}, not a count`);
    return v as number;
  }

  sameLength(a: readonly unknown[], b: readonly unknown[], fieldA: string, fieldB: string): void {
    if (a.length !== b.length) this.fail(fieldA, `has ${a.length} entries but ${fieldB} has ${b.length}`);
  }
}
