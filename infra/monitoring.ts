/**
 * Alarms, their optional SNS topic, and the CloudWatch dashboard: every value from infra/plan/alarms.ts and
 * infra/plan/dashboard.ts; this file only creates them. Not in `sst dev` (no brokers are deployed there).
 */
import { broker, cluster } from "./broker.js";
import { api, eventsConsumer, router } from "./api.js";
import { alarmActions, alarmName, alarmPlans, type MonitoringTargets } from "./plan/alarms.js";
import { dashboardBody, dashboardName } from "./plan/dashboard.js";
import { eventsDeadLetterQueueName, eventsQueueName } from "./plan/queues.js";
import { prefix } from "./queues.js";
import { settings } from "./settings.js";

function create() {
  const actions = alarmActions(settings);
  const topic = actions.createTopic ? new aws.sns.Topic("AlarmTopic", { name: `${prefix}-alarms` }) : undefined;
  if (topic !== undefined && actions.email !== undefined) {
    // AWS sends a confirmation mail first: notifications start once it is confirmed.
    new aws.sns.TopicSubscription("AlarmEmail", { topic: topic.arn, protocol: "email", endpoint: actions.email });
  }
  const alarmTargets = [...(topic === undefined ? [] : [topic.arn]), ...actions.topicArns];

  const targets = $resolve([
    cluster.nodes.cluster.name,
    broker.nodes.service.name,
    router.name,
    eventsConsumer.nodes.function.apply((f) => f.name),
    api.nodes.api.id,
    aws.getRegionOutput().region,
  ]).apply(
    ([ecsCluster, ecsService, routerName, consumerName, apiId, region]): MonitoringTargets => ({
      cluster: prefix,
      eventsQueue: eventsQueueName(prefix),
      eventsDeadLetterQueue: eventsDeadLetterQueueName(prefix),
      ecsCluster,
      ecsService,
      functions: { router: routerName, eventsConsumer: consumerName },
      apiId,
      region,
    }),
  );

  // The plans' keys and count do not depend on the resolved names: one resource per plan, names stable.
  const keys = alarmPlans(placeholderTargets()).map((a) => a.key);
  const alarms = keys.map((key, i) => {
    const plan = targets.apply((t) => alarmPlans(t)[i]!);
    return new aws.cloudwatch.MetricAlarm(`Alarm-${key}`, {
      name: alarmName(prefix, key),
      alarmDescription: plan.apply((p) => `${p.description} First step: ${p.runbook}`),
      comparisonOperator: plan.comparison,
      threshold: plan.threshold,
      evaluationPeriods: plan.evaluationPeriods,
      datapointsToAlarm: plan.datapointsToAlarm,
      treatMissingData: plan.treatMissingData,
      // One metric query per metric, summed by an expression when there are several.
      metricQueries: plan.apply((p) => [
        ...p.metrics.map((m, j) => ({
          id: `m${j + 1}`,
          returnData: p.metrics.length === 1,
          metric: { namespace: m.namespace, metricName: m.name, dimensions: m.dimensions, stat: m.statistic, period: p.periodSeconds },
        })),
        ...(p.metrics.length > 1 ? [{ id: "total", expression: p.metrics.map((_, j) => `m${j + 1}`).join("+"), label: p.key, returnData: true }] : []),
      ]),
      alarmActions: alarmTargets,
      okActions: alarmTargets,
    });
  });

  new aws.cloudwatch.Dashboard("Dashboard", {
    dashboardName: dashboardName(prefix),
    dashboardBody: $resolve(alarms.map((a) => a.arn)).apply((arns) => targets.apply((t) => JSON.stringify(dashboardBody(t, arns)))),
  });
}

/** Names that only serve to list the plans' keys before the real ones resolve. */
function placeholderTargets(): MonitoringTargets {
  return { cluster: prefix, eventsQueue: "q", eventsDeadLetterQueue: "dlq", ecsCluster: "c", ecsService: "s", functions: { router: "r", eventsConsumer: "e" }, apiId: "a", region: "r" };
}

if (!$dev) create();
