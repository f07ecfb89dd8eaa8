/**
 * The Gym client: calls servers by instance name. Names resolve through the head server's
 * `GET /global_config_dict_yaml` (or a config already in hand, as inside a child server). Calls
 * have a deadline and bounded retries (http/fetch.ts); a RolloutSession keeps one cookie jar per
 * target server, so every call of one rollout lands in the same server-side session.
 */
import { parse as parseYaml } from "yaml";
import { findServerInstance, instanceUrl, listServerInstances, type ConfigDict } from "./config/types.ts";
import { GymClientError, GymHttpError } from "./errors.ts";
import { CookieJar, formatCookieHeader } from "./http/cookies.ts";
import { callWithRetry, httpAgent, type CallOptions, type HttpResult } from "./http/fetch.ts";

export type { CallOptions, HttpResult } from "./http/fetch.ts";

export interface RequestOptions extends CallOptions {
  cookies?: Record<string, string>;
  headers?: Record<string, string>;
}

export class GymClient {
  readonly defaults: CallOptions;
  constructor(
    readonly config: ConfigDict,
    defaults: CallOptions = {},
  ) {
    // A process started beside a Gym with a shared secret finds it in its environment.
    const secret = defaults.secret ?? (process.env.GYMRL_GYM_SECRET || undefined);
    this.defaults = secret ? { ...defaults, secret } : defaults;
    const perHost = config.global_aiohttp_connector_limit_per_host;
    if (typeof perHost === "number") httpAgent(perHost);
  }

  /** Fetch the global config from a head server (`http://host:port`) and build a client on it. */
  static async fromHead(headUrl: string, defaults: CallOptions = {}): Promise<GymClient> {
    const res = await callWithRetry("head_server", `${trimSlash(headUrl)}/global_config_dict_yaml`, { method: "GET" }, { maxRetries: 3, timeoutMs: 30_000, ...defaults });
    if (res.status !== 200) throw new GymHttpError("head_server", headUrl, res.status, res.text);
    // The head server answers a JSON string whose content is YAML (NeMo Gym's OmegaConf.to_yaml).
    const cfg = parseYaml(res.json<string>()) as ConfigDict;
    return new GymClient(cfg, defaults);
  }

  /** `http://host:port` of a configured server. */
  serverUrl(name: string): string {
    const s = findServerInstance(this.config, name);
    if (!s) {
      const known = listServerInstances(this.config).map((x) => x.name);
      throw new GymClientError(`no Gym server named '${name}'; configured: ${known.join(", ") || "none"}`);
    }
    if (typeof s.block.port !== "number") throw new GymClientError(`Gym server '${name}' has no port assigned (is Gym started?)`);
    return instanceUrl(s);
  }

  async request(server: string, method: "GET" | "POST", path: string, json?: unknown, opts: RequestOptions = {}): Promise<HttpResult> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.cookies && Object.keys(opts.cookies).length > 0) headers.cookie = formatCookieHeader(opts.cookies);
    const url = `${this.serverUrl(server)}${path.startsWith("/") ? path : `/${path}`}`;
    return callWithRetry(server, url, { method, json, headers }, { ...this.defaults, ...opts });
  }

  post(server: string, path: string, json: unknown, opts?: RequestOptions): Promise<HttpResult> {
    return this.request(server, "POST", path, json, opts);
  }

  get(server: string, path: string, opts?: RequestOptions): Promise<HttpResult> {
    return this.request(server, "GET", path, undefined, opts);
  }

  /** POST and parse a 2xx JSON answer; any other status is a GymHttpError naming the server. */
  async postJson<T = unknown>(server: string, path: string, json: unknown, opts?: RequestOptions): Promise<T> {
    const res = await this.post(server, path, json, opts);
    return okJson<T>(server, path, res);
  }

  /** A cookie jar per target server, for the calls of one rollout. */
  session(): RolloutSession {
    return new RolloutSession(this);
  }
}

/** The calls of one rollout: cookies each server sets are sent back to that server only. */
export class RolloutSession {
  readonly jar = new CookieJar();
  constructor(readonly client: GymClient) {}

  async post(server: string, path: string, json: unknown, opts: RequestOptions = {}): Promise<HttpResult> {
    const res = await this.client.post(server, path, json, { ...opts, cookies: { ...this.jar.get(server), ...(opts.cookies ?? {}) } });
    this.jar.set(server, res.setCookies);
    return res;
  }

  async postJson<T = unknown>(server: string, path: string, json: unknown, opts?: RequestOptions): Promise<T> {
    return okJson<T>(server, path, await this.post(server, path, json, opts));
  }
}

export function okJson<T>(server: string, path: string, res: HttpResult): T {
  if (res.status < 200 || res.status >= 300) throw new GymHttpError(server, path, res.status, res.text);
  try {
    return res.json<T>();
  } catch {
    throw new GymHttpError(server, path, res.status, `answer is not JSON: ${res.text.slice(0, 200)}`);
  }
}

function trimSlash(u: string): string {
  return u.endsWith("/") ? u.slice(0, -1) : u;
}
