import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALARM_DEFAULTS, alarmActions, alarmName, alarmPlans, DROP_REASONS, type MonitoringTargets } from "../../infra/plan/alarms.js";
import { DASHBOARD_PERIOD_SECONDS, dashboardBody, dashboardName, type MetricLine } from "../../infra/plan/dashboard.js";
import { METRICS_NAMESPACE } from "../../infra/plan/broker.js";
import { deploySettings } from "../../infra/plan/settings.js";
import { get } from "../ops/support.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

const root = new URL("../..", import.meta.url).pathname;
const targets: MonitoringTargets = {
  cluster: "mqgate-prod",
  eventsQueue: "mqgate-prod-events.fifo",
  eventsDeadLetterQueue: "mqgate-prod-events-dlq.fifo",
  ecsCluster: "mqgate-prod-ClusterCluster-abc",
  ecsService: "Broker",
  functions: { router: "mqgate-prod-ApiRouterFunction-x1", eventsConsumer: "mqgate-prod-EventsQueueSubscriber-y2" },
  apiId: "abc123",
  region: "eu-west-1",
};

/** The metric names a broker serves on /metrics (the EMF lines carry the same, broker/emf.ts). */
let brokerNames: Set<string>;
let b: TestBroker;
beforeAll(async () => {
  b = await startTestBroker({ metrics: { host: "127.0.0.1", port: 0 } });
  brokerNames = new Set((await get(b.metrics!.port, "/metrics")).body.split("\n").flatMap((l) => /^([a-z_]+)[{ ]/.exec(l)?.[1] ?? []));
});
afterAll(() => b?.close());

describe("alarmPlans: the alarms of docs/operations.md", () => {
  const plans = alarmPlans(targets);

  it("one alarm per condition: events age and dead letters, broker CPU and memory, drops, store errors, Lambda errors and throttles, no live nodes", () => {
    expect(plans.map((p) => p.key)).toEqual([
      "events-queue-age",
      "events-dead-letters",
      "broker-cpu",
      "broker-memory",
      "connection-drops",
      "store-errors",
      "router-errors",
      "router-throttles",
      "events-consumer-errors",
      "events-consumer-throttles",
      "no-live-nodes",
    ]);
  });

  it("are valid CloudWatch alarms with unique names and a first step to try", () => {
    const names = plans.map((p) => alarmName(targets.cluster, p.key));
    expect(new Set(names).size).toBe(names.length);
    for (const p of plans) {
      expect(alarmName(targets.cluster, p.key).length).toBeLessThanOrEqual(255);
      expect(p.periodSeconds % 60).toBe(0);
      expect(p.evaluationPeriods).toBeGreaterThanOrEqual(p.datapointsToAlarm);
      expect(p.datapointsToAlarm).toBeGreaterThanOrEqual(1);
      expect(p.evaluationPeriods * p.periodSeconds).toBeLessThanOrEqual(86_400);
      expect(Number.isFinite(p.threshold)).toBe(true);
      expect(p.metrics.length).toBeGreaterThanOrEqual(1);
      expect(p.metrics.length).toBeLessThanOrEqual(10);
      expect(p.runbook.length).toBeGreaterThan(10);
      for (const m of p.metrics) expect(Object.keys(m.dimensions).length).toBeGreaterThan(0);
    }
  });

  it("the brokers' alarms read metrics the brokers export, for this deployment's cluster only", () => {
    const mqgate = plans.flatMap((p) => p.metrics).filter((m) => m.namespace === METRICS_NAMESPACE);
    expect(mqgate.length).toBeGreaterThan(0);
    for (const m of mqgate) {
      expect(brokerNames, m.name).toContain(m.name);
      expect(m.dimensions.cluster).toBe(targets.cluster);
      expect(Object.keys(m.dimensions).every((d) => ["cluster", "reason"].includes(d))).toBe(true);
    }
    const drops = plans.find((p) => p.key === "connection-drops")!;
    expect(drops.metrics.map((m) => m.dimensions.reason)).toEqual([...DROP_REASONS]);
    expect(drops.metrics.map((m) => m.dimensions.reason)).not.toContain("client-disconnect");
  });

  it("no live nodes: missing data is the alarm (no broker writes metrics)", () => {
    const p = plans.find((a) => a.key === "no-live-nodes")!;
    expect(p).toMatchObject({ treatMissingData: "breaching", comparison: "LessThanThreshold", threshold: 1 });
    expect(p.metrics).toEqual([{ namespace: METRICS_NAMESPACE, name: "mqgate_connections", dimensions: { cluster: targets.cluster }, statistic: "SampleCount" }]);
    // Error alarms stay quiet without traffic.
    for (const key of ["store-errors", "router-errors", "events-dead-letters"]) expect(plans.find((a) => a.key === key)?.treatMissingData).toBe("notBreaching");
  });

  it("AWS metrics name the deployment's own queues, tasks and functions", () => {
    const dims = plans.flatMap((p) => p.metrics.map((m) => `${m.namespace} ${m.name} ${JSON.stringify(m.dimensions)}`));
    expect(dims).toContain(`AWS/SQS ApproximateAgeOfOldestMessage {"QueueName":"${targets.eventsQueue}"}`);
    expect(dims).toContain(`AWS/SQS ApproximateNumberOfMessagesVisible {"QueueName":"${targets.eventsDeadLetterQueue}"}`);
    expect(dims).toContain(`AWS/ECS CPUUtilization {"ClusterName":"${targets.ecsCluster}","ServiceName":"Broker"}`);
    expect(dims).toContain(`AWS/Lambda Throttles {"FunctionName":"${targets.functions.router}"}`);
    expect(dims).toContain(`AWS/Lambda Errors {"FunctionName":"${targets.functions.eventsConsumer}"}`);
    expect(plans.find((p) => p.key === "broker-cpu")?.threshold).toBe(ALARM_DEFAULTS.brokerCpuPercent);
  });

  it("notify nobody by default; an e-mail creates the deployment's SNS topic; an existing topic ARN is added", () => {
    expect(alarmActions(deploySettings({}))).toEqual({ createTopic: false, topicArns: [] });
    expect(alarmActions(deploySettings({ MQGATE_DEPLOY_ALARM_EMAIL: "oncall@example.com" }))).toEqual({ createTopic: true, email: "oncall@example.com", topicArns: [] });
    expect(alarmActions(deploySettings({ MQGATE_DEPLOY_ALARM_TOPIC_ARN: "arn:aws:sns:eu-west-1:123456789012:pager" }))).toEqual({ createTopic: false, topicArns: ["arn:aws:sns:eu-west-1:123456789012:pager"] });
  });
});

describe("dashboardBody: the CloudWatch dashboard", () => {
  const arns = ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:mqgate-prod-store-errors"];
  const body = dashboardBody(targets, arns);

  it("is a valid dashboard body: widgets on the 24-column grid without overlap, every metric widget with its region", () => {
    expect(JSON.stringify(body).length).toBeLessThan(1_000_000);
    const cells = new Set<string>();
    for (const w of body.widgets) {
      expect(w.x + w.width).toBeLessThanOrEqual(24);
      for (let dx = 0; dx < w.width; dx++) {
        for (let dy = 0; dy < w.height; dy++) {
          const cell = `${w.x + dx},${w.y + dy}`;
          expect(cells.has(cell), `overlap at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
      if (w.type === "metric") {
        expect(w.properties).toMatchObject({ region: targets.region, period: DASHBOARD_PERIOD_SECONDS });
        expect((w.properties.metrics as MetricLine[]).length).toBeLessThanOrEqual(500);
      }
    }
    expect(body.widgets.find((w) => w.type === "alarm")?.properties.alarms).toEqual(arns);
    expect(dashboardName("mqgate-prod")).toBe("mqgate-prod");
  });

  it("graphs broker metrics by their exported names, for this cluster, and the deployment's AWS resources", () => {
    const lines = body.widgets.filter((w) => w.type === "metric").flatMap((w) => w.properties.metrics as MetricLine[]);
    const mqgate = lines.filter((l) => l[0] === METRICS_NAMESPACE);
    expect(mqgate.length).toBeGreaterThan(5);
    for (const l of mqgate) {
      expect(brokerNames, String(l[1])).toContain(l[1]);
      expect(l.slice(2, 4)).toEqual(["cluster", targets.cluster]);
    }
    const named = lines.map((l) => l.filter((x) => typeof x === "string").join(" "));
    for (const want of [targets.eventsQueue, targets.eventsDeadLetterQueue, targets.ecsService, targets.functions.router, targets.apiId]) {
      expect(named.some((n) => n.includes(want)), want).toBe(true);
    }
  });
});

describe("infra/monitoring.ts", () => {
  it("creates the plans' alarms and dashboard from sst deploy (not in sst dev)", () => {
    const src = readFileSync(join(root, "infra/monitoring.ts"), "utf8");
    for (const s of ["alarmPlans(", "dashboardBody(", "new aws.cloudwatch.MetricAlarm", "new aws.cloudwatch.Dashboard", "if (!$dev) create();"]) expect(src).toContain(s);
    expect(readFileSync(join(root, "sst.config.ts"), "utf8")).toContain('await import("./infra/monitoring.js");');
  });
});
