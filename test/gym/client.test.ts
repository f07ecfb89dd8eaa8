/** GymClient: names resolved through a head server, bounded retries with backoff, deadlines, per-server cookie jars. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { GymClient, GymClientError, GymConnectionError, GymHttpError, startHeadServer, type ConfigDict } from "../../src/gym/index.ts";
import type { Listening } from "../../src/gym/http/app.ts";

let hits = 0;
let server: Server;
let port: number;
let head: Listening;
let closed: number;

const config = (p: number): ConfigDict => ({
  flaky: { resources_servers: { flaky: { entrypoint: "app.py", domain: "other", host: "127.0.0.1", port: p } } },
  dead: { resources_servers: { dead: { entrypoint: "app.py", domain: "other", host: "127.0.0.1", port: closed } } },
});

beforeAll(async () => {
  const probe = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => probe.once("listening", r));
  closed = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  // A server that answers 503 twice, then 200 with a cookie; /slow never answers in time; /always503 never recovers.
  server = createServer((req, res) => {
    if (req.url === "/slow") return void setTimeout(() => res.end("{}"), 2000);
    if (req.url === "/always503") return void res.writeHead(503).end("busy");
    if (req.url === "/echo-cookie") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ cookie: req.headers.cookie ?? null }));
    hits++;
    if (hits % 3 !== 0) return void res.writeHead(503).end("busy");
    res.writeHead(200, { "content-type": "application/json", "set-cookie": "Flaky___flaky=abc; Path=/" }).end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
  head = await startHeadServer({ config: () => config(port), instances: () => [], host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await head.close();
  server.close();
  server.closeAllConnections();
});

describe("GymClient", () => {
  test("resolves names through the head server and retries 503 with backoff", async () => {
    const client = await GymClient.fromHead(head.url, { backoffMs: 10 });
    expect(client.serverUrl("flaky")).toBe(`http://127.0.0.1:${port}`);
    expect(() => client.serverUrl("nope")).toThrow(GymClientError);
    hits = 0;
    expect(await client.postJson("flaky", "/x", {})).toEqual({ ok: true });
    expect(hits).toBe(3);
  });

  test("retries are bounded: a 503 that never recovers is an HTTP error, a dead server a connection error", async () => {
    const client = new GymClient(config(port), { backoffMs: 10, maxRetries: 2 });
    await expect(client.postJson("flaky", "/always503", {})).rejects.toThrow(GymHttpError);
    const t0 = Date.now();
    const err = await client.post("dead", "/x", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GymConnectionError);
    expect((err as GymConnectionError).message).toBe(`server 'dead' at http://127.0.0.1:${closed}/x is unreachable after 3 attempt(s): connect ECONNREFUSED 127.0.0.1:${closed}`);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test("a per-call deadline is not retried", async () => {
    const client = new GymClient(config(port), { timeoutMs: 200 });
    const t0 = Date.now();
    await expect(client.get("flaky", "/slow")).rejects.toThrow(/no answer within 200 ms/);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  test("a rollout session sends each server back its own cookies", async () => {
    const client = new GymClient(config(port), { backoffMs: 10 });
    const session = client.session();
    hits = 0;
    await session.post("flaky", "/x", {});
    expect(session.jar.get("flaky")).toEqual({ Flaky___flaky: "abc" });
    expect(session.jar.get("dead")).toEqual({});
    expect((await session.postJson<{ cookie: string }>("flaky", "/echo-cookie", {})).cookie).toBe("Flaky___flaky=abc");
    expect((await client.session().postJson<{ cookie: string | null }>("flaky", "/echo-cookie", {})).cookie).toBeNull();
  });
});
