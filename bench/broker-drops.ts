/**
 * What an mqgate broker under test says it dropped (its `mqgate_messages_dropped_total` counter, by reason), read
 * from its metrics endpoint after a measurement. A run that misses messages then says whether the broker dropped
 * them by policy (a subscriber's queue full, a message expired...) or lost them.
 */

/** Dropped messages by reason; only reasons with a count above zero. */
export type BrokerDrops = Record<string, number>;

const DROPPED = "mqgate_messages_dropped_total";

/** The non-zero `mqgate_messages_dropped_total{reason="..."}` samples of a Prometheus text exposition. */
export function parseBrokerDrops(text: string): BrokerDrops {
  const out: BrokerDrops = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${DROPPED}{`)) continue;
    const m = /^mqgate_messages_dropped_total\{(?:[^}]*,)?reason="([^"]+)"[^}]*\}\s+(\S+)/.exec(line);
    if (m === null) continue;
    const n = Number(m[2]);
    if (Number.isFinite(n) && n > 0) out[m[1] as string] = (out[m[1] as string] ?? 0) + n;
  }
  return out;
}

/** Reads the broker's drops from `http://127.0.0.1:<port>/metrics`; null when it cannot be read. */
export async function readBrokerDrops(port: number, timeoutMs = 3000): Promise<BrokerDrops | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    return parseBrokerDrops(await res.text());
  } catch {
    return null;
  }
}

/** "queue-full 652, expired 3", or "" when nothing was dropped. */
export function formatBrokerDrops(drops: BrokerDrops | null | undefined): string {
  if (drops === null || drops === undefined) return "";
  return Object.entries(drops)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason} ${n}`)
    .join(", ");
}
