/**
 * Cookies the NeMo Gym way: each server has one session cookie named `{Class}___{instance}`, so
 * cookies of different servers never collide and a caller can hold them in one opaque jar per
 * target server per rollout (CookieJar).
 */

export function parseCookieHeader(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name) out[name] = value;
  }
  return out;
}

export function formatCookieHeader(cookies: Record<string, string>): string {
  return Object.entries(cookies)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
}

/** `Set-Cookie` as Starlette's SessionMiddleware writes it (path=/, two weeks, httponly, lax). */
export function serializeSetCookie(name: string, value: string): string {
  return `${name}=${value}; Path=/; Max-Age=1209600; HttpOnly; SameSite=Lax`;
}

/** The name=value pairs of Set-Cookie headers (attributes dropped). */
export function parseSetCookies(headers: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of headers) {
    const first = h.split(";")[0];
    const eq = first.indexOf("=");
    if (eq > 0) out[first.slice(0, eq).trim()] = first.slice(eq + 1).trim();
  }
  return out;
}

/** Cookies kept per target server, for one rollout. */
export class CookieJar {
  private readonly byServer = new Map<string, Record<string, string>>();

  get(server: string): Record<string, string> {
    return { ...(this.byServer.get(server) ?? {}) };
  }

  set(server: string, cookies: Record<string, string>): void {
    if (Object.keys(cookies).length === 0) return;
    this.byServer.set(server, { ...(this.byServer.get(server) ?? {}), ...cookies });
  }
}
