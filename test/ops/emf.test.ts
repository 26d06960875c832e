import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { EmfExporter, PER_NODE_METRICS, PROCESS_METRICS, unitOf } from "../../broker/emf.js";
import { mqttClient } from "../functions/support.js";
import { startTestBroker } from "../helpers/broker.js";
import { get } from "./support.js";

// The broker's metrics as CloudWatch embedded metric format lines: every line valid against the EMF specification
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html),
// every name one the Prometheus endpoint serves, dimensions cluster and node (and one bounded label) only.

const UNITS = new Set([
  "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Bits", "Kilobits",
  "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
  "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
  "Terabits/Second", "Count/Second", "None",
]);

/** Checks one log line against the EMF specification; returns the problems found. */
function emfProblems(line: string, now: number): string[] {
  const p: string[] = [];
  if (Buffer.byteLength(line) > 256 * 1024) p.push("larger than a CloudWatch Logs event");
  let root: Record<string, unknown>;
  try {
    root = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return ["not a JSON object"];
  }
  if (root === null || typeof root !== "object" || Array.isArray(root)) return ["root is not an object"];
  const aws = root._aws as Record<string, unknown> | undefined;
  if (aws === undefined || typeof aws !== "object") return ["no _aws metadata object"];
  const ts = aws.Timestamp;
  if (typeof ts !== "number" || !Number.isInteger(ts)) p.push("_aws.Timestamp is not an integer of milliseconds");
  else if (ts < now - 14 * 86_400_000 || ts > now + 2 * 3_600_000) p.push("_aws.Timestamp outside 14 days past .. 2 hours ahead");
  const directives = aws.CloudWatchMetrics;
  if (!Array.isArray(directives) || directives.length === 0) return [...p, "_aws.CloudWatchMetrics is not a non-empty array"];
  for (const d of directives as Record<string, unknown>[]) {
    if (typeof d.Namespace !== "string" || !/^[A-Za-z0-9._#:/-]{1,255}$/.test(d.Namespace)) p.push(`Namespace ${String(d.Namespace)} is invalid`);
    if (!Array.isArray(d.Dimensions)) p.push("Dimensions is not an array");
    else {
      for (const set of d.Dimensions as unknown[]) {
        if (!Array.isArray(set)) {
          p.push("a DimensionSet is not an array");
          continue;
        }
        if (set.length > 30) p.push("a DimensionSet has more than 30 dimensions");
        for (const name of set as unknown[]) {
          if (typeof name !== "string" || name.length < 1 || name.length > 250) p.push(`dimension name ${String(name)} is invalid`);
          else if (typeof root[name] !== "string") p.push(`dimension ${name} has no string member`);
          else if ((root[name] as string).length < 1 || (root[name] as string).length > 1024) p.push(`dimension ${name}'s value has an invalid length`);
        }
      }
    }
    if (!Array.isArray(d.Metrics) || d.Metrics.length === 0) p.push("Metrics is not a non-empty array");
    else {
      if (d.Metrics.length > 100) p.push("more than 100 MetricDefinitions");
      const names = new Set<string>();
      for (const m of d.Metrics as Record<string, unknown>[]) {
        const extra = Object.keys(m).filter((k) => !["Name", "Unit", "StorageResolution"].includes(k));
        if (extra.length > 0) p.push(`MetricDefinition has extra members ${extra.join(",")}`);
        if (typeof m.Name !== "string" || m.Name.length < 1 || m.Name.length > 255) p.push(`metric name ${String(m.Name)} is invalid`);
        else {
          if (names.has(m.Name)) p.push(`metric ${m.Name} defined twice`);
          names.add(m.Name);
          const v = root[m.Name];
          const ok = (x: unknown) => typeof x === "number" && Number.isFinite(x);
          if (!(ok(v) || (Array.isArray(v) && v.length <= 100 && v.every(ok)))) p.push(`metric ${m.Name} has no numeric member`);
        }
        if (m.Unit !== undefined && !UNITS.has(m.Unit as string)) p.push(`metric ${String(m.Name)} has unit ${String(m.Unit)}`);
      }
    }
  }
  return p;
}

/** Prometheus names of a scrape: families (# TYPE) and the sample names of histograms (_sum, _count). */
function prometheusNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? /.exec(line);
    if (m) names.add(m[1]!);
  }
  return names;
}

describe("EmfExporter on a registry", () => {
  it("counters as increases, gauges as values, histograms as _sum/_count increases; a bounded label becomes a dimension", async () => {
    const registry = new Registry();
    const c = new Counter({ name: "x_events_total", help: "h", labelNames: ["reason"], registers: [registry] });
    const g = new Gauge({ name: "x_open", help: "h", registers: [registry] });
    const h = new Histogram({ name: "x_call_duration_seconds", help: "h", labelNames: ["operation"], buckets: [0.1, 1], registers: [registry] });
    new Gauge({ name: "x_per_client", help: "h", labelNames: ["clientId"], registers: [registry] }).set({ clientId: "device-1" }, 1);
    c.inc({ reason: "a" }, 3);
    g.set(7);
    h.observe({ operation: "apply" }, 0.5);
    const lines: string[] = [];
    let now = 1_800_000_000_000;
    const exp = new EmfExporter(registry, { namespace: "ns", cluster: "c1", node: "n1", intervalSeconds: 60, write: (l) => lines.push(l), now: () => now });
    await exp.flush();
    const docs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(docs).toHaveLength(3);
    for (const l of lines) expect(emfProblems(l, now)).toEqual([]);
    expect(lines.join("")).not.toContain("device-1"); // a label outside the bounded set is never exported
    const plain = docs.find((d) => d.x_open !== undefined)!;
    expect(plain).toMatchObject({ cluster: "c1", node: "n1", x_open: 7, _aws: { Timestamp: now, CloudWatchMetrics: [{ Namespace: "ns", Dimensions: [["cluster"]] }] } });
    const reason = docs.find((d) => d.reason === "a")!;
    expect(reason).toMatchObject({ x_events_total: 3, _aws: { CloudWatchMetrics: [{ Dimensions: [["cluster"], ["cluster", "reason"]], Metrics: [{ Name: "x_events_total", Unit: "Count" }] }] } });
    const op = docs.find((d) => d.operation === "apply")!;
    expect(op).toMatchObject({ x_call_duration_seconds_sum: 0.5, x_call_duration_seconds_count: 1 });
    expect(Object.keys(op).some((k) => k.endsWith("_bucket"))).toBe(false);

    lines.length = 0;
    now += 60_000;
    c.inc({ reason: "a" }, 2);
    g.set(4);
    await exp.flush();
    const next = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(next.find((d) => d.reason === "a")?.x_events_total).toBe(2); // the increase, not the total
    expect(next.find((d) => d.x_open !== undefined)?.x_open).toBe(4);
    expect(next.find((d) => d.operation === "apply")).toMatchObject({ x_call_duration_seconds_sum: 0, x_call_duration_seconds_count: 0 });
  });

  it("splits a group of more than 100 metrics into several documents", async () => {
    const registry = new Registry();
    for (let i = 0; i < 150; i++) new Gauge({ name: `x_g${i}`, help: "h", registers: [registry] }).set(i);
    const lines: string[] = [];
    await new EmfExporter(registry, { namespace: "ns", cluster: "c", node: "n", intervalSeconds: 1, write: (l) => lines.push(l) }).flush();
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(emfProblems(l, Date.now())).toEqual([]);
    const names = lines.flatMap((l) => (JSON.parse(l) as { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } })._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name));
    expect(new Set(names).size).toBe(150);
  });

  it("units from the Prometheus unit suffix", () => {
    expect(unitOf("mqgate_store_call_duration_seconds_sum")).toBe("Seconds");
    expect(unitOf("mqgate_process_cpu_seconds_total")).toBe("Seconds");
    expect(unitOf("mqgate_sent_bytes_total")).toBe("Bytes");
    expect(unitOf("mqgate_connections_total")).toBe("Count");
    expect(unitOf("mqgate_store_call_duration_seconds_count")).toBe("Count");
    expect(unitOf("mqgate_connections")).toBe("None");
  });
});

describe("a broker with emf.intervalSeconds", () => {
  it("writes valid EMF lines whose names are the Prometheus endpoint's, with the traffic's counts", async () => {
    const lines: string[] = [];
    const b = await startTestBroker(
      { nodeId: "emf-node", emf: { intervalSeconds: 3600, namespace: "mqgate", cluster: "mqgate-test" }, metrics: { host: "127.0.0.1", port: 0 } },
      undefined,
      undefined,
      { emfOut: (l) => lines.push(l) },
    );
    let prometheus: Set<string>;
    try {
      const sub = await mqttClient(b.mqttPort, "emf-sub");
      const received = new Promise<void>((resolve) => sub.client.on("message", () => resolve()));
      await sub.client.subscribeAsync("emf/t", { qos: 1 });
      const pub = await mqttClient(b.mqttPort, "emf-pub");
      await pub.client.publishAsync("emf/t", "x", { qos: 1 });
      await received;
      await pub.client.endAsync();
      await sub.client.endAsync();
      prometheus = prometheusNames((await get(b.metrics!.port, "/metrics")).body);
    } finally {
      await b.close(); // the final export
    }
    expect(lines.length).toBeGreaterThan(5);
    const docs = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[]; Dimensions: string[][] }[] } });
    for (const l of lines) expect(emfProblems(l, Date.now())).toEqual([]);
    const exported = new Set<string>();
    for (const d of docs) {
      expect(d.cluster).toBe("mqgate-test");
      expect(d.node).toBe("emf-node");
      for (const set of d._aws.CloudWatchMetrics[0]!.Dimensions) for (const dim of set) expect(["cluster", "node", "reason", "qos", "state", "operation"]).toContain(dim);
      for (const m of d._aws.CloudWatchMetrics[0]!.Metrics) exported.add(m.Name);
    }
    for (const name of exported) expect(prometheus, name).toContain(name);
    // Per node only the few metrics compared across nodes (each series is a billed custom metric).
    const perNode = new Set(docs.filter((d) => d._aws.CloudWatchMetrics[0]!.Dimensions.some((set) => set.includes("node"))).flatMap((d) => d._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name)));
    expect([...perNode].sort()).toEqual([...PER_NODE_METRICS].filter((n) => exported.has(n)).sort());
    expect(perNode).toContain("mqgate_connections");
    expect(perNode).not.toContain("mqgate_disconnections_total");
    // Of prom-client's process metrics only the chosen few.
    expect([...exported].filter((n) => /^mqgate_(process|nodejs)_/.test(n)).sort()).toEqual([...PROCESS_METRICS].sort());
    for (const name of ["mqgate_connections", "mqgate_connections_total", "mqgate_disconnections_total", "mqgate_sessions", "mqgate_messages_received_total", "mqgate_messages_sent_total", "mqgate_messages_dropped_total", "mqgate_queued_messages", "mqgate_store_call_errors_total", "mqgate_store_call_duration_seconds_count", "mqgate_process_cpu_seconds_total", "mqgate_process_resident_memory_bytes"]) {
      expect(exported, name).toContain(name);
    }
    const sum = (name: string, label?: [string, string]) =>
      docs.filter((d) => label === undefined || d[label[0]] === label[1]).reduce((n, d) => n + (typeof d[name] === "number" ? (d[name] as number) : 0), 0);
    expect(sum("mqgate_connections_total")).toBe(2);
    expect(sum("mqgate_messages_received_total", ["qos", "1"])).toBe(1);
    expect(sum("mqgate_messages_sent_total", ["qos", "1"])).toBe(1);
    expect(lines.join("")).not.toMatch(/emf-sub|emf-pub|emf\/t/); // no client ids, no topics
  });
});
