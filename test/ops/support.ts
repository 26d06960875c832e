import type { QoS } from "mqtt-packet";
import type { RawClient } from "../helpers/raw-client.js";

// Shared by the ops tests: HTTP against the metrics listener, and a parser for the Prometheus text format.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface HttpAnswer {
  status: number;
  contentType: string | null;
  body: string;
}

export async function get(port: number, path: string, method = "GET"): Promise<HttpAnswer> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, contentType: res.headers.get("content-type"), body: await res.text() };
}

/** Samples of one scrape, keyed by `name{label="value",...}` with labels sorted by name (no braces without labels). */
export type Samples = Map<string, number>;

function key(name: string, labels: Record<string, string>): string {
  const names = Object.keys(labels).sort();
  return names.length === 0 ? name : `${name}{${names.map((n) => `${n}="${labels[n]}"`).join(",")}}`;
}

/** Parses the Prometheus text exposition format (samples only; HELP/TYPE lines are skipped). */
export function parseSamples(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (m === null) throw new Error(`unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.set(key(m[1] as string, labels), Number(m[3]));
  }
  return samples;
}

export async function scrape(port: number): Promise<Samples> {
  const res = await get(port, "/metrics");
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${res.body}`);
  return parseSamples(res.body);
}

/** The value of one sample; throws when the scrape does not have it (a missing series is a failure, not 0). */
export function value(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  const v = samples.get(key(name, labels));
  if (v === undefined) throw new Error(`no sample ${key(name, labels)} in the scrape`);
  return v;
}

/** Difference of one sample between two scrapes. */
export function delta(before: Samples, after: Samples, name: string, labels: Record<string, string> = {}): number {
  return value(after, name, labels) - value(before, name, labels);
}

/** Polls `cond` until it holds; fails after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export function publish(c: RawClient, topic: string, payload: string, qos: QoS, messageId?: number): void {
  c.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...(qos > 0 ? { messageId } : {}) });
}
