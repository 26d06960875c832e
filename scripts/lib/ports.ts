import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** The standard ports of MQTT, Redis and our listeners: a developer's Mosquitto, Redis or app may want them. */
const RESERVED_PORTS = new Set([1883, 6379, 8080, 8083, 8883]);

/**
 * Where handed-out ports come from: below Linux's default ephemeral range (32768–60999), so no outgoing connection
 * and no `listen(0)` of any process can take a port between the moment it is handed out and the moment the caller
 * binds it (decision 049: with port 0, a neighbouring test file's connection took one). Above most service ports a
 * developer's machine runs; one inside the range (RabbitMQ's 25672, say) is found taken by the probe like any other.
 */
const LOW = 16_000;
const HIGH = ephemeralFloor(32_700);

/** `fallback`, or lower when this machine's ephemeral range starts lower (and still well above LOW). */
function ephemeralFloor(fallback: number): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOW + 4_000 ? Math.min(fallback, low - 1) : fallback;
  } catch {
    return fallback;
  }
}

/** The range handed-out ports come from: [low, high). */
export const PORT_RANGE: { readonly low: number; readonly high: number } = Object.freeze({ low: LOW, high: HIGH });

/**
 * Vitest runs test files in worker processes numbered from 1 (VITEST_POOL_ID). Each worker draws from its own slice
 * of the range, so two workers (or a worker and the processes it spawns, which inherit the id) rarely pick the
 * same port before either binds it; the probe below catches the rest.
 */
function slice(): { from: number; size: number } {
  const id = Number(process.env["VITEST_POOL_ID"] ?? 0);
  const slices = 4;
  if (!Number.isInteger(id) || id < 1) return { from: LOW, size: HIGH - LOW };
  const size = Math.floor((HIGH - LOW) / slices);
  return { from: LOW + ((id - 1) % slices) * size, size };
}

/**
 * Ports this process already handed out. A caller may not have bound one yet, so the probe alone would not stop
 * two calls in a row (a node's MQTT and HTTP ports, say) from returning the same port.
 */
const handedOut = new Set<number>();

/** Bind `port` on every IPv4 address and close it again: true when nothing held it. */
function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: "0.0.0.0", exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A port nothing listens on right now, drawn at random from below the ephemeral range, never one of the standard
 * ports and never one this process already handed out. Another process may still bind it before the caller does
 * (only by asking for it by number); callers that can, retry. Used by the tests, the local cluster and the
 * benchmark.
 */
export async function freePort(): Promise<number> {
  const { from, size } = slice();
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const port = from + Math.floor(Math.random() * size);
    if (RESERVED_PORTS.has(port) || handedOut.has(port)) continue;
    if (!(await probe(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found in ${from}–${from + size - 1} after 1,000 tries`);
}
