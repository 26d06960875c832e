/**
 * The CloudWatch dashboard `sst deploy` creates (`<app>-<stage>`): the brokers' EMF metrics (the Prometheus names,
 * broker/emf.ts), the REST Lambda's EMF metrics (functions/telemetry.ts), and AWS's own metrics of the queues, the
 * broker tasks, the functions and the HTTP API, plus the alarms' states. Pure: infra/monitoring.ts serialises it.
 */
import { METRICS_NAMESPACE } from "./broker.js";
import type { MonitoringTargets } from "./alarms.js";
import { DROP_REASONS } from "./alarms.js";

type MetricOptions = { stat?: string; label?: string; yAxis?: "left" | "right"; id?: string; visible?: boolean; expression?: string };
/** CloudWatch's metric array: namespace, name, dimension name/value pairs, then options. */
export type MetricLine = (string | MetricOptions)[];

export interface Widget {
  type: "metric" | "text" | "alarm";
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

export interface DashboardBody {
  widgets: Widget[];
}

/** The dashboard's period (seconds): the EMF interval, so a gauge's Sum over a period is its cluster total. */
export const DASHBOARD_PERIOD_SECONDS = 60;
const WIDTH = 24;

export function dashboardName(cluster: string): string {
  // Dashboard names: letters, digits, '-', '_' (the queue prefix already is).
  return cluster.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 255);
}

export function dashboardBody(t: MonitoringTargets, alarmArns: readonly string[]): DashboardBody {
  const widgets: Widget[] = [];
  let x = 0;
  let y = 0;
  const place = (type: Widget["type"], width: number, height: number, properties: Record<string, unknown>): void => {
    if (x + width > WIDTH) {
      x = 0;
      y += 6;
    }
    widgets.push({ type, x, y, width, height, properties });
    x += width;
  };
  const row = (): void => {
    if (x > 0) {
      x = 0;
      y += 6;
    }
  };
  const mq = (name: string, opts: MetricOptions, extra: [string, string][] = []): MetricLine => [
    METRICS_NAMESPACE,
    name,
    "cluster",
    t.cluster,
    ...extra.flat(),
    opts,
  ];
  const chart = (title: string, metrics: MetricLine[], stat = "Sum", width = 8): void =>
    place("metric", width, 6, { title, region: t.region, view: "timeSeries", stacked: false, period: DASHBOARD_PERIOD_SECONDS, stat, metrics });

  place("text", WIDTH, 2, {
    markdown: `# mqgate ${t.cluster}\nBrokers: EMF metrics (namespace \`${METRICS_NAMESPACE}\`, dimension \`cluster\`), per minute. Runbooks: docs/operations.md. Live view: the dashboard at /dashboard/ of a broker or \`GET /v1/stats\`.`,
  });
  y += 2;
  x = 0;
  place("alarm", WIDTH, 3, { title: "Alarms", alarms: [...alarmArns] });
  y += 3;
  x = 0;

  chart("Connections and sessions (cluster)", [
    mq("mqgate_connections", { label: "connections" }),
    mq("mqgate_sessions", { label: "sessions" }),
  ]);
  chart("Messages per minute", [
    mq("mqgate_messages_received_total", { label: "received" }),
    mq("mqgate_messages_sent_total", { label: "sent" }),
    mq("mqgate_messages_dropped_total", { label: "dropped", yAxis: "right" }),
  ]);
  chart(
    "Connections lost per minute",
    DROP_REASONS.map((reason) => mq("mqgate_disconnections_total", { label: reason }, [["reason", reason]])),
  );
  row();
  chart("Store calls: errors, mean duration (s)", [
    mq("mqgate_store_call_errors_total", { label: "errors" }),
    mq("mqgate_store_call_duration_seconds_sum", { id: "s", visible: false }),
    mq("mqgate_store_call_duration_seconds_count", { id: "c", visible: false }),
    [{ expression: "s/c", id: "e1", label: "mean duration", yAxis: "right" }],
  ]);
  chart("Queued and in-flight messages (cluster)", [
    mq("mqgate_queued_messages", { label: "queued" }),
    mq("mqgate_inflight_messages", { label: "in flight" }),
  ]);
  chart(
    "Broker tasks: CPU and memory (%)",
    [
      ["AWS/ECS", "CPUUtilization", "ClusterName", t.ecsCluster, "ServiceName", t.ecsService, { label: "CPU" }],
      ["AWS/ECS", "MemoryUtilization", "ClusterName", t.ecsCluster, "ServiceName", t.ecsService, { label: "memory" }],
    ],
    "Average",
  );
  row();
  chart(
    "Events queue",
    [
      ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", t.eventsQueue, { label: "oldest (s)", stat: "Maximum" }],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", t.eventsQueue, { label: "waiting", yAxis: "right" }],
      ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", t.eventsDeadLetterQueue, { label: "dead letters", yAxis: "right" }],
    ],
    "Maximum",
  );
  chart("Lambda: invocations, errors, throttles", [
    ...[t.functions.router, t.functions.eventsConsumer].flatMap((fn): MetricLine[] => [
      ["AWS/Lambda", "Invocations", "FunctionName", fn, { label: `${fn} invocations` }],
      ["AWS/Lambda", "Errors", "FunctionName", fn, { label: `${fn} errors`, yAxis: "right" }],
      ["AWS/Lambda", "Throttles", "FunctionName", fn, { label: `${fn} throttles`, yAxis: "right" }],
    ]),
  ]);
  chart("REST API: requests, 4xx, 5xx, latency", [
    ["AWS/ApiGateway", "Count", "ApiId", t.apiId, { label: "requests" }],
    ["AWS/ApiGateway", "4xx", "ApiId", t.apiId, { label: "4xx (429 throttled included)" }],
    ["AWS/ApiGateway", "5xx", "ApiId", t.apiId, { label: "5xx" }],
    ["AWS/ApiGateway", "Latency", "ApiId", t.apiId, { label: "p99 latency (ms)", stat: "p99", yAxis: "right" }],
  ]);
  return { widgets };
}
