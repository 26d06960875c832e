/**
 * The CloudWatch alarms `sst deploy` creates (docs/operations.md, "After sst deploy"): one per condition an operator
 * must hear about, from AWS's own metrics (SQS, ECS, Lambda) and the brokers' EMF metrics (namespace `mqgate`,
 * broker/emf.ts). Pure: infra/monitoring.ts hands these to aws.cloudwatch.MetricAlarm.
 */
import { METRICS_NAMESPACE } from "./broker.js";

/** The deployed things the alarms watch, by name. */
export interface MonitoringTargets {
  /** The brokers' `cluster` dimension (the queue prefix, `<app>-<stage>`). */
  cluster: string;
  eventsQueue: string;
  eventsDeadLetterQueue: string;
  ecsCluster: string;
  ecsService: string;
  /** Lambda function names: the REST router and the events consumer. */
  functions: { router: string; eventsConsumer: string };
  /** API Gateway HTTP API id. */
  apiId: string;
  region: string;
}

export interface MetricRef {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  statistic: "Sum" | "Average" | "Maximum" | "Minimum" | "SampleCount";
}

export type Comparison = "GreaterThanThreshold" | "GreaterThanOrEqualToThreshold" | "LessThanThreshold";

export interface AlarmPlan {
  /** Resource name suffix and alarm name suffix (`<cluster>-<key>`). */
  key: string;
  description: string;
  /** One metric, or the sum of several (metric math `m1+m2+…`, same statistic and period). */
  metrics: MetricRef[];
  periodSeconds: number;
  comparison: Comparison;
  threshold: number;
  evaluationPeriods: number;
  datapointsToAlarm: number;
  /** What a period without data means: no broker writing EMF is itself an alarm for "no live nodes". */
  treatMissingData: "breaching" | "notBreaching" | "missing";
  /** The first thing to try (docs/operations.md has the runbooks). */
  runbook: string;
}

/** Reasons of mqgate_disconnections_total that mean a connection was lost rather than ended by its client. */
export const DROP_REASONS = ["socket-error", "keepalive-timeout", "socket-closed", "protocol-error"] as const;

/** Thresholds an operator may want to change per deployment; the defaults are in ALARM_DEFAULTS. */
export interface AlarmThresholds {
  /** Seconds the oldest event may wait in the events queue. */
  eventsAgeSeconds: number;
  /** Broker task CPU and memory, percent of the task's size. */
  brokerCpuPercent: number;
  brokerMemoryPercent: number;
  /** Lost connections (DROP_REASONS) per 5 minutes over the cluster. */
  connectionDropsPer5Min: number;
  /** Failed store calls per 5 minutes over the cluster (a failed batch counts once per attempt). */
  storeErrorsPer5Min: number;
  /** Lambda errors per 5 minutes, per function. */
  lambdaErrorsPer5Min: number;
}

export const ALARM_DEFAULTS: Readonly<AlarmThresholds> = Object.freeze({
  eventsAgeSeconds: 300,
  // Autoscaling targets 60 % CPU and 75 % memory (infra/plan/broker.ts): sustained values above these mean it
  // cannot keep up (maximum tasks reached, or one hot task).
  brokerCpuPercent: 85,
  brokerMemoryPercent: 90,
  connectionDropsPer5Min: 500,
  storeErrorsPer5Min: 10,
  lambdaErrorsPer5Min: 5,
});

const FIVE_MIN = 300;

/** Every alarm of the deployment, in a fixed order (names are stable across deploys). */
export function alarmPlans(t: MonitoringTargets, th: AlarmThresholds = ALARM_DEFAULTS): AlarmPlan[] {
  const sqs = (queue: string, name: string, statistic: MetricRef["statistic"]): MetricRef => ({ namespace: "AWS/SQS", name, dimensions: { QueueName: queue }, statistic });
  const ecs = (name: string): MetricRef => ({ namespace: "AWS/ECS", name, dimensions: { ClusterName: t.ecsCluster, ServiceName: t.ecsService }, statistic: "Average" });
  const lambda = (fn: string, name: string): MetricRef => ({ namespace: "AWS/Lambda", name, dimensions: { FunctionName: fn }, statistic: "Sum" });
  const mqgate = (name: string, statistic: MetricRef["statistic"], extra: Record<string, string> = {}): MetricRef => ({
    namespace: METRICS_NAMESPACE,
    name,
    dimensions: { cluster: t.cluster, ...extra },
    statistic,
  });
  const fns = [
    ["router", t.functions.router, "the REST API"],
    ["events-consumer", t.functions.eventsConsumer, "the events consumer"],
  ] as const;
  return [
    {
      key: "events-queue-age",
      description: `Events wait more than ${th.eventsAgeSeconds} s in ${t.eventsQueue}: the consumer is failing or too slow.`,
      metrics: [sqs(t.eventsQueue, "ApproximateAgeOfOldestMessage", "Maximum")],
      periodSeconds: FIVE_MIN,
      comparison: "GreaterThanThreshold",
      threshold: th.eventsAgeSeconds,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: "notBreaching",
      runbook: "Check the events consumer's errors and logs; see 'An SQS backlog' in docs/operations.md.",
    },
    {
      key: "events-dead-letters",
      description: `Events reached the dead-letter queue ${t.eventsDeadLetterQueue}: the consumer failed them 5 times.`,
      metrics: [sqs(t.eventsDeadLetterQueue, "ApproximateNumberOfMessagesVisible", "Maximum")],
      periodSeconds: FIVE_MIN,
      comparison: "GreaterThanThreshold",
      threshold: 0,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: "notBreaching",
      runbook: "Read a dead letter (aws sqs receive-message) and the consumer's error log for it; fix, then redrive.",
    },
    {
      key: "broker-cpu",
      description: `Broker tasks above ${th.brokerCpuPercent} % CPU for 15 minutes.`,
      metrics: [ecs("CPUUtilization")],
      periodSeconds: FIVE_MIN,
      comparison: "GreaterThanThreshold",
      threshold: th.brokerCpuPercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: "missing",
      runbook: "Raise MQGATE_DEPLOY_MAX_BROKERS if scaling is at its maximum; look for a client storm (docs/operations.md).",
    },
    {
      key: "broker-memory",
      description: `Broker tasks above ${th.brokerMemoryPercent} % memory for 15 minutes.`,
      metrics: [ecs("MemoryUtilization")],
      periodSeconds: FIVE_MIN,
      comparison: "GreaterThanThreshold",
      threshold: th.brokerMemoryPercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: "missing",
      runbook: "Check mqgate_queued_messages and sessions per node; lower limits.maxQueued or add tasks.",
    },
    {
      key: "connection-drops",
      description: `More than ${th.connectionDropsPer5Min} client connections lost in 5 minutes (${DROP_REASONS.join(", ")}).`,
      metrics: DROP_REASONS.map((reason) => mqgate("mqgate_disconnections_total", "Sum", { reason })),
      periodSeconds: FIVE_MIN,
      comparison: "GreaterThanThreshold",
      threshold: th.connectionDropsPer5Min,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: "notBreaching",
      runbook: "Check the load balancer and the brokers' logs for the reasons; a network event or a broker restart loop.",
    },
    {
      key: "store-errors",
      description: `More than ${th.storeErrorsPer5Min} failed store calls in 5 minutes: Redis unreachable or refusing.`,
      metrics: [mqgate("mqgate_store_call_errors_total", "Sum")],
      periodSeconds: FIVE_MIN,
      comparison: "GreaterThanThreshold",
      threshold: th.storeErrorsPer5Min,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: "notBreaching",
      runbook: "Run npm run doctor against the stage; check Upstash's status and limits ('A Redis outage' in docs/operations.md).",
    },
    ...fns.flatMap(([key, fn, what]): AlarmPlan[] => [
      {
        key: `${key}-errors`,
        description: `${what} (${fn}) failed more than ${th.lambdaErrorsPer5Min} invocations in 5 minutes.`,
        metrics: [lambda(fn, "Errors")],
        periodSeconds: FIVE_MIN,
        comparison: "GreaterThanThreshold",
        threshold: th.lambdaErrorsPer5Min,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: "notBreaching",
        runbook: `Read the function's error log lines (requestId) in CloudWatch Logs.`,
      },
      {
        key: `${key}-throttles`,
        description: `Lambda throttled ${what} (${fn}): the account's or the function's concurrency is exhausted.`,
        metrics: [lambda(fn, "Throttles")],
        periodSeconds: FIVE_MIN,
        comparison: "GreaterThanThreshold",
        threshold: 0,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: "notBreaching",
        runbook: "Check the account's Lambda concurrency (Service Quotas) and the API throttling settings.",
      },
    ]),
    {
      key: "no-live-nodes",
      // Every live broker writes mqgate_connections once per EMF interval: no data point for 3 minutes means
      // no broker is running (or none can write its logs).
      description: "No broker has reported metrics for 3 minutes: no live nodes.",
      metrics: [mqgate("mqgate_connections", "SampleCount")],
      periodSeconds: 60,
      comparison: "LessThanThreshold",
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: "breaching",
      runbook: "Check the ECS service's events and stopped tasks (image pull, health check, secrets); npm run doctor.",
    },
  ];
}

/** The alarm's CloudWatch name: unique per deployment, readable in a notification. */
export function alarmName(cluster: string, key: string): string {
  return `${cluster}-${key}`;
}

/** The SNS actions of every alarm: the deployment's own topic (when an e-mail is set) and an existing one. */
export function alarmActions(settings: { alarmEmail?: string; alarmTopicArn?: string }): { createTopic: boolean; email?: string; topicArns: string[] } {
  return {
    createTopic: settings.alarmEmail !== undefined,
    ...(settings.alarmEmail === undefined ? {} : { email: settings.alarmEmail }),
    topicArns: settings.alarmTopicArn === undefined ? [] : [settings.alarmTopicArn],
  };
}
