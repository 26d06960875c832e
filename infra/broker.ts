/**
 * The brokers: an ECS cluster in the VPC and a Fargate service built from infra/broker.Dockerfile, behind a
 * network load balancer. Every value comes from infra/plan/broker.ts; this file only hands them to SST.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { configEnv } from "./config.js";
import { vpc } from "./network.js";
import * as plan from "./plan/broker.js";
import { eventsSenderStatements, nodeQueueOwnerStatements } from "./plan/queues.js";
import { ARCHITECTURE } from "./plan/runtime.js";
import { DEPLOY_ENV, usesAclFile } from "./plan/settings.js";
import { eventsQueue, nodeDeadLetterQueue, nodeQueueArnPattern, prefix } from "./queues.js";
import { settings } from "./settings.js";
import { brokerRedisUrlParameter } from "./store.js";
import { tlsBrokerCommand } from "./plan/tls.js";
import { brokerTlsKeys, brokerTlsSsm } from "./tls.js";

if (usesAclFile(settings.auth) && !existsSync(path.join($cli.paths.root, settings.aclFile))) {
  throw new Error(
    `The broker's ACL file ${settings.aclFile} does not exist. Create it (docs/auth.md, docs/deploy.md), point ` +
      `${DEPLOY_ENV.aclFile} at it, use users and roles in the store with ${DEPLOY_ENV.auth}=store, or deploy an open broker with ${DEPLOY_ENV.auth}=allow-all.`,
  );
}

const seconds = (n: number) => `${n} seconds` as const;

const rules = plan.brokerPorts(settings.domain, { plaintext: settings.plaintext, tlsPassthrough: settings.tlsPassthrough });
const image = plan.brokerImage(settings);
const scaling = plan.brokerScaling(settings);
const check = plan.brokerHealthCheck();
const stopTimeout = plan.stopTimeoutSeconds(plan.DRAIN_MS);

export const cluster = new sst.aws.Cluster("Cluster", { vpc });

/** The node links' secret (infra/plan/broker.ts, LINK_SECRET): generated at the first deploy, kept afterwards. */
const linkSecretParameter = new aws.ssm.Parameter(
  "BrokerLinkSecretParameter",
  {
    type: "SecureString",
    value: $util.secret(
      aws.secretsmanager.getRandomPasswordOutput({ passwordLength: plan.LINK_SECRET.length, excludePunctuation: plan.LINK_SECRET.excludePunctuation }).apply(
        (r) => r.randomPassword ?? "",
      ),
    ),
    description: `mqgate ${$app.stage}: MQGATE_CLUSTER__LINK_SECRET of the broker tasks (node links), generated`,
  },
  { ignoreChanges: ["value"] },
);

/** Admits the link port from (and to) the broker tasks only: attached to the tasks next to the VPC's group. */
const linkRules = plan.brokerLinkSecurityGroup();
const linkSecurityGroup = new aws.ec2.SecurityGroup("BrokerLinkSecurityGroup", {
  vpcId: vpc.id,
  description: "mqgate node links between broker tasks",
  ingress: linkRules.ingress,
  egress: linkRules.egress,
});

export const broker = new sst.aws.Service("Broker", {
  cluster,
  architecture: ARCHITECTURE,
  cpu: plan.BROKER_TASK.cpu,
  memory: plan.BROKER_TASK.memory,
  image: { context: ".", dockerfile: image.dockerfile, target: image.target, args: image.args },
  environment: {
    ...plan.brokerEnvironment({
      auth: settings.auth,
      aclFile: settings.aclFile,
      drainMs: plan.DRAIN_MS,
      queuePrefix: prefix,
      tls: settings.tlsPassthrough ? { clientCerts: settings.clientCerts } : undefined,
    }),
    MQGATE_EVENTS_QUEUE_URL: eventsQueue.url,
    MQGATE_CLUSTER__DEAD_LETTER_QUEUE_ARN: nodeDeadLetterQueue.arn,
    // The operator's config (infra/config.ts, MQGATE_DEPLOY_CONFIG) over the cluster defaults.
    ...configEnv,
    ...plan.brokerNodeOptions(settings.brokerSemiSpaceMiB),
  },
  ssm: { MQGATE_REDIS_URL: brokerRedisUrlParameter.arn, MQGATE_CLUSTER__LINK_SECRET: linkSecretParameter.arn, ...brokerTlsSsm },
  // TLS passthrough: write the TLS secrets to files, then run the image's command (infra/plan/tls.ts).
  ...(brokerTlsKeys.length > 0 ? { command: tlsBrokerCommand(brokerTlsKeys) } : {}),
  permissions: [...nodeQueueOwnerStatements(nodeQueueArnPattern), ...eventsSenderStatements(eventsQueue.arn)],
  health: {
    command: ["CMD", ...check.command],
    interval: seconds(check.intervalSeconds),
    timeout: seconds(check.timeoutSeconds),
    retries: check.retries,
    startPeriod: seconds(check.startPeriodSeconds),
  },
  loadBalancer: {
    domain:
      settings.domain === undefined
        ? undefined
        : settings.certificateArn === undefined
          ? settings.domain
          : { name: settings.domain, cert: settings.certificateArn, dns: false },
    rules,
    health: Object.fromEntries(
      Object.entries(plan.loadBalancerHealthChecks(rules)).map(([port, h]) => [
        port,
        {
          interval: seconds(h.intervalSeconds),
          timeout: seconds(h.timeoutSeconds),
          healthyThreshold: h.healthyThreshold,
          unhealthyThreshold: h.unhealthyThreshold,
        },
      ]),
    ),
  },
  scaling: {
    min: scaling.min,
    max: scaling.max,
    cpuUtilization: scaling.cpuUtilization,
    memoryUtilization: scaling.memoryUtilization,
    scaleOutCooldown: seconds(scaling.scaleOutCooldownSeconds),
    scaleInCooldown: seconds(scaling.scaleInCooldownSeconds),
  },
  // `sst deploy` waits until the new tasks are healthy; ECS's circuit breaker rolls a failing deployment back.
  wait: true,
  transform: {
    service: (args) => {
      // The tasks keep the VPC's group (the load balancer's ports) and get the link group as well.
      const network = $output(args.networkConfiguration);
      args.networkConfiguration = $output(linkSecurityGroup.id).apply((sg) =>
        network.apply((n) => ({ ...n!, securityGroups: [...(n?.securityGroups ?? []), sg] })),
      );
    },
    // SIGTERM → SIGKILL only after the broker's drain (ECS's default is 30 s; SST has no option for it).
    taskDefinition: (args) => {
      args.containerDefinitions = $output(args.containerDefinitions).apply((json) => plan.withStopTimeout(json, stopTimeout));
    },
    listener: (args) => {
      if (args.protocol === "TLS") args.sslPolicy = plan.TLS_POLICY;
    },
    target: (args) => {
      args.deregistrationDelay = plan.DEREGISTRATION_DELAY_SECONDS;
      // Connections reach the tasks from the load balancer's addresses, inside the VPC range the tasks' security
      // group admits; with client IPs preserved, that group would have to be open to the internet.
      args.preserveClientIp = "false";
    },
  },
});
