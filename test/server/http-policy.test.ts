/**
 * The shared HTTP policy (src/server/http-policy.ts) as both servers see it: constant-time key and
 * secret checks, bounded draining, invalid UTF-8 and deep nesting as 4xx, receive timeouts that cut
 * off slow senders, the bind rule, the Gym shared secret and the head server's redaction.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { bearerMatches, checkBind, isLoopback, secretMatches } from "../../src/server/http-policy.ts";
import { createApp, listen, SECRET_HEADER, type Listening } from "../../src/gym/http/app.ts";
import { redactSecrets } from "../../src/gym/head-server.ts";
import { SessionStore } from "../../src/gym/servers/resources/sessions.ts";
import { serve } from "../../src/server/serve.ts";
import { startTestServer, type RunningServer } from "../support/openai-server.ts";
import { ScriptedEngine } from "../support/scripted-engine.ts";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function openai(extra: Parameters<typeof startTestServer>[1] = {}): Promise<RunningServer> {
  const s = await startTestServer(new ScriptedEngine([], 512), extra);
  closers.push(s.close);
  return s;
}

async function gym(opts: Partial<Parameters<typeof createApp>[0]> = {}, timeouts?: Parameters<typeof listen>[3]): Promise<Listening> {
  const app = createApp({ routes: [{ method: "POST", path: "/echo", handler: (ctx) => ({ got: ctx.body }) }, { method: "GET", path: "/", handler: () => ({ status: "ok" }) }], ...opts });
  const l = await listen(app, "127.0.0.1", 0, timeouts);
  closers.push(l.close);
  return l;
}

/** Raw HTTP over a socket: what came back before the server closed (or `waitMs` passed). */
function rawExchange(url: string, head: string, body: Buffer | string, waitMs = 3000): Promise<{ text: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = connect(Number(port), hostname);
    let text = "";
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ text, closed: false });
    }, waitMs);
    sock.on("data", (d) => (text += d.toString("latin1")));
    sock.on("error", () => undefined);
    sock.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    sock.write(head);
    sock.write(body);
  });
}

describe("key and secret checks", () => {
  it("match exactly, whatever the lengths", () => {
    expect(secretMatches("abc", "abc")).toBe(true);
    expect(secretMatches("abd", "abc")).toBe(false);
    expect(secretMatches("abc\0", "abc")).toBe(false);
    expect(secretMatches("", "abc")).toBe(false);
    expect(secretMatches(undefined, "abc")).toBe(false);
    expect(bearerMatches("Bearer k1", "k1")).toBe(true);
    expect(bearerMatches("bearer k1", "k1")).toBe(false);
    expect(bearerMatches("Bearer k12", "k1")).toBe(false);
  });

  it("the OpenAI server refuses a wrong key with a 401 in its shape, and serves the right one", async () => {
    const s = await openai({ apiKey: "sekrit" });
    const wrong = await fetch(`${s.baseUrl}/v1/models`, { headers: { authorization: "Bearer sekrix" } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { type: string } }).error.type).toBe("authentication_error");
    expect((await fetch(`${s.baseUrl}/v1/models`, { headers: { authorization: "Bearer sekrit" } })).status).toBe(200);
  });

  it("a Gym server with a secret answers GET / to anyone and everything else only with the secret", async () => {
    const g = await gym({ secret: "s3" });
    expect((await fetch(`${g.url}/`)).status).toBe(200);
    const no = await fetch(`${g.url}/echo`, { method: "POST", body: "{}" });
    expect([no.status, ((await no.json()) as { detail: string }).detail]).toEqual([401, expect.stringContaining(SECRET_HEADER)]);
    const yes = await fetch(`${g.url}/echo`, { method: "POST", body: '{"a":1}', headers: { [SECRET_HEADER]: "s3" } });
    expect(await yes.json()).toEqual({ got: { a: 1 } });
  });
});

describe("bodies", () => {
  it("an unwanted body past the drain bound is not read: the 404/401 closes the connection", async () => {
    const s = await openai({ apiKey: "k" });
    const big = Buffer.alloc(4 * 1024 * 1024, 0x61);
    for (const path of ["/nope", "/v1/chat/completions"]) {
      const r = await rawExchange(s.baseUrl, `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`, Buffer.concat([Buffer.from(`${big.length.toString(16)}\r\n`), big]));
      expect(r.text).toMatch(path === "/nope" ? /^HTTP\/1\.1 404/ : /^HTTP\/1\.1 401/);
      expect(r.text.toLowerCase()).toContain("connection: close");
    }
    // a small unwanted body is drained and the connection kept
    const small = await rawExchange(s.baseUrl, "POST /nope HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n", "{}", 500);
    expect(small.text).toMatch(/^HTTP\/1\.1 404/);
    expect(small.closed).toBe(false);
  });

  it("invalid UTF-8 is a 400 (OpenAI) / 422 (Gym) naming it, not silently replaced", async () => {
    const bad = Buffer.concat([Buffer.from('{"prompt":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const s = await openai();
    const r1 = await fetch(`${s.baseUrl}/tokenize`, { method: "POST", body: bad });
    expect([r1.status, ((await r1.json()) as { error: { message: string } }).error.message]).toEqual([400, "request body is not valid UTF-8"]);
    const g = await gym();
    const r2 = await fetch(`${g.url}/echo`, { method: "POST", body: bad });
    expect(r2.status).toBe(422);
    expect(JSON.stringify(await r2.json())).toContain("not valid UTF-8");
  });

  it("a Gym server's default body limit is 64 MiB, not 1 GiB", async () => {
    const g = await gym();
    const r = await rawExchange(g.url, `POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: ${64 * 1024 * 1024 + 1}\r\n\r\n`, "{");
    expect(r.text).toMatch(/^HTTP\/1\.1 413/);
    expect(r.text).toContain("exceeds the limit of 67108864 bytes");
  });

  it("a body nested deeper than the handlers can walk is a 4xx, not a 500", async () => {
    const deep = `{"messages":${"[".repeat(200_000)}1${"]".repeat(200_000)}}`;
    const s = await openai();
    const r = await fetch(`${s.baseUrl}/v1/chat/completions`, { method: "POST", body: deep });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
  });
});

describe("timeouts", () => {
  it("a client that sends its body too slowly is cut off, and the server keeps serving", async () => {
    const g = await gym({}, { requestTimeoutMs: 400, headersTimeoutMs: 400, checkIntervalMs: 100 });
    const started = Date.now();
    const r = await rawExchange(g.url, "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n", "{", 5000);
    expect(r.closed).toBe(true);
    expect(r.text).toMatch(/^HTTP\/1\.1 408|^$/);
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await fetch(`${g.url}/`)).status).toBe(200);
  });
});

describe("binding", () => {
  it("refuses a non-loopback host without a key, naming the setting", () => {
    expect(isLoopback("127.0.0.1") && isLoopback("::1") && isLoopback("localhost") && isLoopback("[::1]")).toBe(true);
    expect(isLoopback("0.0.0.0") || isLoopback("::") || isLoopback("10.0.0.2")).toBe(false);
    expect(() => checkBind("0.0.0.0", false, { server: "OpenAI server", keyHint: "pass --api-key KEY" })).toThrow(/refusing to listen on 0\.0\.0\.0 without a key.*--api-key KEY/);
    expect(() => checkBind("0.0.0.0", true, { server: "OpenAI server", keyHint: "x" })).not.toThrow();
    expect(() => checkBind("127.0.0.1", false, { server: "OpenAI server", keyHint: "x" })).not.toThrow();
  });

  it("gymrl serve --host 0.0.0.0 without --api-key fails at once with that advice", async () => {
    await expect(serve({ randomInit: true, host: "0.0.0.0" })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without a key.*--api-key KEY/);
  });
});

describe("Gym state", () => {
  it("the head server's config hides credentials and keeps everything else", () => {
    const cfg = { policy_api_key: "sk-1", policy_base_url: "http://a/v1", max_tokens: 5, m: { responses_api_models: { vllm_model: { api_key: "k", hf_token: "t", model: "x" } } }, l: [{ password: "p" }] };
    expect(redactSecrets(cfg)).toEqual({ policy_api_key: "***", policy_base_url: "http://a/v1", max_tokens: 5, m: { responses_api_models: { vllm_model: { api_key: "***", hf_token: "***", model: "x" } } }, l: [{ password: "***" }] });
  });

  it("resources sessions are capped, the least recently used dropped first", () => {
    const store = new SessionStore<{ n: number }>(() => ({ n: 0 }), 3_600_000, 3);
    store.get("a").state.n = 1;
    store.get("b");
    store.get("c");
    store.get("a"); // a is now the most recent
    store.get("d"); // evicts b
    expect(store.size).toBe(3);
    expect(store.get("a").state.n).toBe(1);
    expect(store.size).toBe(3);
    store.get("b"); // b was dropped: a fresh one, evicting c
    expect(store.get("a").state.n).toBe(1);
  });
});
