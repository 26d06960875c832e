/**
 * The broker's Prometheus metrics as CloudWatch embedded metric format (EMF) lines, for deployments where nothing
 * scrapes /metrics: every `intervalSeconds` the registry is read once and written as a few JSON lines on the
 * log stream (stdout), which CloudWatch Logs turns into metrics. The names are the Prometheus names, so the
 * reference in docs/operations.md holds for both:
 *
 * - counters: the increase since the previous export (Unit Count; Sum over a period is the rate's numerator);
 * - gauges: the current value;
 * - histograms: `<name>_sum` and `<name>_count` increases (Sum of both: the mean over any period).
 *
 * Dimensions: `cluster` and `node` on every line, plus the metric's one label (`reason`, `qos`, `state`,
 * `operation`: fixed sets of values) on the lines of labelled metrics. Never a client id or a topic: metrics
 * with any other label (prom-client's per-heap-space and per-GC-kind series) are left out, and of prom-client's
 * process metrics only PROCESS_METRICS. Dimension sets: per cluster (`[cluster]`, `[cluster, label]`) for every
 * metric, and per node (`[cluster, node]`) for PER_NODE_METRICS only: each series is a CloudWatch custom metric,
 * billed per month, so the per-node ones (which multiply with the tasks) are the few an operator compares across
 * nodes. CloudWatch sums the lines of one period, so `[cluster]` of a labelled metric is its total over the label's
 * values and over the nodes.
 */
import type { MetricObjectWithValues, MetricValue, Registry } from "prom-client";
import { type EmfDocument, emfDocument, MAX_METRICS, type MetricUnit, MetricSet } from "../core/metrics/emf.js";

/** Labels whose values are a small fixed set; a metric with any other label is not exported. */
export const EMF_LABELS: ReadonlySet<string> = new Set(["reason", "qos", "state", "operation"]);

/** prom-client's process and Node.js metrics (prefixed `mqgate_process_`, `mqgate_nodejs_`) that are exported. */
export const PROCESS_METRICS: ReadonlySet<string> = new Set([
  "mqgate_process_cpu_seconds_total",
  "mqgate_process_resident_memory_bytes",
  "mqgate_nodejs_heap_size_used_bytes",
  "mqgate_nodejs_eventloop_lag_p99_seconds",
]);

/** Metrics also written per node (`[cluster, node]`). */
export const PER_NODE_METRICS: ReadonlySet<string> = new Set([
  "mqgate_connections",
  "mqgate_sessions",
  "mqgate_messages_received_total",
  "mqgate_messages_sent_total",
  "mqgate_messages_dropped_total",
  "mqgate_store_call_errors_total",
  ...PROCESS_METRICS,
]);

/** Whether a Prometheus sample name is exported at all. */
export function isExported(name: string): boolean {
  return !/^mqgate_(process|nodejs)_/.test(name) || PROCESS_METRICS.has(name);
}

export interface EmfExporterOptions {
  namespace: string;
  /** `cluster` dimension: the deployment. */
  cluster: string;
  /** `node` dimension: the node id. */
  node: string;
  intervalSeconds: number;
  /** Writes one line (without the newline). */
  write: (line: string) => void;
  /** A failed collection (logged by the caller); the next interval tries again. */
  onError?: (err: unknown) => void;
  now?: () => number;
}

/** CloudWatch unit of a Prometheus metric, from its name's unit suffix. */
export function unitOf(name: string): MetricUnit {
  if (/_seconds(_total|_sum)?$/.test(name)) return "Seconds";
  if (/_bytes(_total|_sum)?$/.test(name)) return "Bytes";
  if (/_total$|_count$/.test(name)) return "Count";
  return "None";
}

type Kind = "counter" | "gauge" | "histogram" | "summary";

/** One line to be: the label (or none), per node or not, and the metric values under it. */
interface Group {
  label: string | null;
  value: string | null;
  perNode: boolean;
  /** Any number of metrics: split into documents of at most MAX_METRICS. */
  metrics: Map<string, { unit: MetricUnit; value: number }>;
}

export class EmfExporter {
  /** Counter and histogram series at the previous export: `name{label=value}` → value. */
  private readonly previous = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly registry: Registry,
    private readonly opts: EmfExporterOptions,
  ) {
    if (!(opts.intervalSeconds > 0)) throw new RangeError("EMF interval must be positive");
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.flush(), this.opts.intervalSeconds * 1000);
    this.timer.unref();
  }

  /** Stops the timer and writes a last export (the final increases of a stopping node). */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.flush();
  }

  /** Collects and writes one export; never throws (errors go to `onError`). */
  flush(): Promise<void> {
    this.running ??= this.documents()
      .then((docs) => {
        for (const doc of docs) this.opts.write(JSON.stringify(doc));
      })
      .catch((err: unknown) => this.opts.onError?.(err))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /** The EMF documents of one export (advances the counters' baselines). */
  async documents(): Promise<EmfDocument[]> {
    const families = await this.registry.getMetricsAsJSON();
    const timestamp = (this.opts.now ?? Date.now)();
    const groups = new Map<string, Group>();
    const groupOf = (label: string | null, value: string | null, perNode: boolean): Group["metrics"] => {
      const key = `${perNode ? "n" : "c"}:${label === null ? "" : `${label}=${value}`}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = { label, value, perNode, metrics: new Map() };
        groups.set(key, g);
      }
      return g.metrics;
    };
    for (const family of families as MetricObjectWithValues<MetricValue<string>>[]) {
      const kind = family.type as unknown as Kind;
      for (const v of family.values) {
        const labels = Object.entries(v.labels ?? {}).filter(([k]) => k !== "le");
        if (labels.length > 1 || labels.some(([k]) => !EMF_LABELS.has(k))) continue;
        const name = (v as { metricName?: string }).metricName ?? family.name;
        if (kind === "histogram" && name.endsWith("_bucket")) continue;
        if (kind === "summary" || !isExported(name)) continue;
        const [label, value] = labels[0] ?? [null, null];
        const cumulative = kind === "counter" || kind === "histogram";
        const reported = cumulative ? this.increase(`${name}{${label ?? ""}=${value ?? ""}}`, v.value) : v.value;
        if (!Number.isFinite(reported)) continue;
        groupOf(label, value === null ? null : String(value), PER_NODE_METRICS.has(family.name)).set(name, { unit: unitOf(name), value: reported });
      }
    }
    const docs: EmfDocument[] = [];
    for (const g of groups.values()) docs.push(...this.toDocuments(g, timestamp));
    return docs;
  }

  private increase(series: string, value: number): number {
    const before = this.previous.get(series) ?? 0;
    this.previous.set(series, value);
    // A counter that went down was reset (a new registry): everything it holds is new.
    return value >= before ? value - before : value;
  }

  private toDocuments(g: Group, timestamp: number): EmfDocument[] {
    const { namespace, cluster, node } = this.opts;
    const dimensions: Record<string, string> = { cluster, node };
    const dimensionSets: string[][] = [["cluster"]];
    if (g.label !== null && g.value !== null) {
      dimensions[g.label] = g.value;
      dimensionSets.push(["cluster", g.label]);
    }
    if (g.perNode) dimensionSets.push(["cluster", "node"]);
    // At most MAX_METRICS per document: larger groups are split.
    const entries = [...g.metrics.entries()];
    const docs: EmfDocument[] = [];
    for (let i = 0; i < entries.length; i += MAX_METRICS) {
      const part = new MetricSet();
      for (const [name, v] of entries.slice(i, i + MAX_METRICS)) part.add(name, v.unit, v.value);
      docs.push(emfDocument(part, { namespace, dimensions, dimensionSets, timestamp }));
    }
    return docs;
  }
}
