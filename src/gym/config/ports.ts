/**
 * Port assignment: every server without a port gets a free one in [port_range_low,
 * port_range_high], skipping disallowed_ports and ports already taken, written into the config
 * before any child starts (as NeMo Gym does), so every process sees the same addresses.
 */
import { createServer } from "node:net";
import { GymConfigError } from "../errors.ts";
import { DEFAULTS, listServerInstances, type ConfigDict } from "./types.ts";

/**
 * Ports that fetch refuses to connect to (WHATWG Fetch "bad ports"), e.g. 10080 inside NeMo Gym's
 * default range and 5060/5061 inside NeMo RL's: a server there could never be called.
 */
export const FETCH_BLOCKED_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113,
  115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556,
  563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667,
  6668, 6669, 6679, 6697, 10080,
]);

/** True when `host:port` can be bound right now. */
export function isPortFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A free port in [low, high], tried in random order so concurrent launchers rarely collide. */
export async function findFreePort(low: number, high: number, host: string, taken: ReadonlySet<number>): Promise<number> {
  const span = high - low + 1;
  const start = Math.floor(Math.random() * span);
  const tries = Math.min(span, 2000);
  for (let i = 0; i < tries; i++) {
    const port = low + ((start + i * 7919) % span); // stride by a prime: spreads out, visits each once when span is not a multiple
    if (taken.has(port) || FETCH_BLOCKED_PORTS.has(port)) continue;
    if (await isPortFree(port, host)) return port;
  }
  throw new GymConfigError("port_range_low", `no free port found in ${low}..${high} on ${host}`);
}

/** Fill in `host` (default_host) and `port` (free) of every server instance, in place. */
export async function assignServerAddresses(cfg: ConfigDict): Promise<void> {
  const low = Number(cfg.port_range_low ?? DEFAULTS.port_range_low);
  const high = Number(cfg.port_range_high ?? DEFAULTS.port_range_high);
  const taken = new Set<number>((cfg.disallowed_ports as number[] | undefined) ?? []);
  const instances = listServerInstances(cfg);
  for (const s of instances) if (typeof s.block.port === "number") taken.add(s.block.port);
  const head = cfg.head_server as { port?: number } | undefined;
  if (head?.port) taken.add(head.port);
  for (const s of instances) {
    if (typeof s.block.host !== "string") s.block.host = String(cfg.default_host ?? DEFAULTS.default_host);
    if (typeof s.block.port !== "number") {
      s.block.port = await findFreePort(low, high, s.block.host as string, taken);
      taken.add(s.block.port as number);
    }
  }
  cfg.disallowed_ports = [...taken];
}
