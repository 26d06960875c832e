/**
 * The broker service: container command, environment (the broker's MQGATE_* contract, docs/configuration.md),
 * health checks, graceful stop and autoscaling; its ports, load balancer and link security group are in
 * infra/plan/broker-network.ts, re-exported here. Pure values; infra/broker.ts hands them to SST,
 * infra/broker.Dockerfile repeats the command and health check (a test keeps them equal).
 */
import { brokerNodeOptionsValue } from "../../broker/node-flags.js";
import { CONTAINER_PORTS, LINK_PORT } from "./broker-network.js";
import { type BrokerAuth, type DeploySettings, usesAclFile } from "./settings.js";

export {
  brokerLinkSecurityGroup,
  brokerPorts,
  CONTAINER_PORTS,
  DEREGISTRATION_DELAY_SECONDS,
  LINK_PORT,
  loadBalancerHealthChecks,
  type PortRule,
  PUBLIC_PORTS,
  type SecurityGroupRule,
  type TargetHealthCheck,
  TLS_POLICY,
  WS_PATH,
} from "./broker-network.js";

/**
 * Where the broker's TLS files are in the task with TLS passthrough: server.crt, server.key and (client
 * certificates) ca.crt, written from `sst secret`s when the task starts (infra/plan/tls.ts).
 */
export const TLS_DIR = "/tmp/mqgate-tls";

/** The image's working directory, command and files (infra/broker.Dockerfile). */
export const APP_DIR = "/app";
/**
 * Without `--enable-source-maps` (decision 058): Node.js decodes the whole source map when the bundle loads, about
 * 50 MB of every broker's memory. The bundle keeps its names, and `node dist/stack.mjs` in the image maps a logged
 * trace's positions to the sources with the map that ships beside the bundle.
 */
export const BROKER_COMMAND = ["node", "dist/broker.mjs"] as const;
/** The image's tool that maps a stack trace's positions back to the sources (scripts/stack.ts). */
export const STACK_SCRIPT = `${APP_DIR}/dist/stack.mjs`;
export const HEALTHCHECK_SCRIPT = `${APP_DIR}/healthcheck.mjs`;
/** Where the ACL file is copied in the image (its file name is kept: the extension selects the parser). */
export const ACL_DIR = `${APP_DIR}/config`;

/** Fargate task size: half a vCPU (Node runs one event loop) and 1 GB. */
export const BROKER_TASK = { cpu: "0.5 vCPU", memory: "1 GB" } as const;

/**
 * Connections one task accepts before refusing (limits.maxConnections). A rough bound for 1 GB of memory with
 * room for session state and socket buffers; measure with bench/ before raising it with a bigger task.
 */
export const MAX_CONNECTIONS_PER_TASK = 20_000;

/** Time the broker gets on SIGTERM to stop accepting, hand sessions back and close (shutdown.drainMs). */
export const DRAIN_MS = 20_000;
/** Fargate's upper limit for a container's stopTimeout. */
export const FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120;
/** Margin between the end of the drain and SIGKILL: the process exits, logs flush. */
const STOP_MARGIN_SECONDS = 5;

/**
 * ECS's stopTimeout (SIGTERM → SIGKILL) for a drain of `drainMs`: the drain plus a margin. The broker exits on its
 * own once the drain ends (core: shutdown.drainMs), so SIGKILL only ever hits a broker that hung.
 */
export function stopTimeoutSeconds(drainMs: number = DRAIN_MS): number {
  const seconds = Math.ceil(drainMs / 1000) + STOP_MARGIN_SECONDS;
  if (!Number.isInteger(drainMs) || drainMs < 0 || seconds > FARGATE_MAX_STOP_TIMEOUT_SECONDS) {
    throw new Error(`drainMs ${drainMs} does not fit Fargate's ${FARGATE_MAX_STOP_TIMEOUT_SECONDS} s stop timeout`);
  }
  return seconds;
}

/**
 * Seconds between two EMF exports of the broker's metrics to its log stream (docs/operations.md). One minute is
 * CloudWatch's standard resolution: shorter intervals cost log volume and buy no finer alarms.
 */
export const EMF_INTERVAL_SECONDS = 60;
/** CloudWatch namespace of the brokers' (and the REST functions') metrics. */
export const METRICS_NAMESPACE = "mqgate";

export interface BrokerEnvironmentOptions {
  auth: BrokerAuth;
  /** The ACL file's path in the repository (only its name is used: the image keeps it under ACL_DIR). */
  aclFile?: string;
  drainMs?: number;
  /** The deployment's queue prefix (infra/plan/queues.ts): node queues are `<prefix>-node-<nodeId>.fifo`. */
  queuePrefix: string;
  /** TLS passthrough: the broker's own TLS listener, with client certificates as configured. */
  tls?: { clientCerts: "off" | "optional" | "required" } | undefined;
}

/**
 * The Node.js options of the broker's process (NODE_OPTIONS): V8's young generation, 8 MiB per semi-space unless
 * the operator chose another size (MQGATE_DEPLOY_BROKER_SEMI_SPACE_MB; decisions 050 and 051), and one V8 helper
 * thread (decision 056). The image sets the defaults too (infra/broker.Dockerfile); the task's environment overrides
 * them.
 */
export function brokerNodeOptions(semiSpaceMiB: number): Record<string, string> {
  return { NODE_OPTIONS: brokerNodeOptionsValue(semiSpaceMiB) };
}

/**
 * The broker's environment in the container: MQGATE_* variables only, each one the config loader accepts. Not
 * set, on purpose: MQGATE_NODE_ID (the default `<hostname>-<pid>` differs per task, a fixed value would not),
 * MQGATE_REDIS_URL (a secret, see BROKER_SECRET_ENV), MQGATE_SQS_ENDPOINT (AWS's endpoint is the default),
 * MQGATE_API_KEY (the broker serves no REST API in the cluster), MQGATE_CLUSTER__LINK_SECRET (a secret generated at
 * the first deploy, see BROKER_SECRET_ENV). The link listener advertises the task's own private address.
 */
export function brokerEnvironment(opts: BrokerEnvironmentOptions): Record<string, string> {
  const env: Record<string, string> = {
    MQGATE_HOST: "0.0.0.0",
    MQGATE_MQTT_PORT: String(CONTAINER_PORTS.mqtt),
    MQGATE_TLS_PORT: "off",
    MQGATE_WS_PORT: String(CONTAINER_PORTS.ws),
    MQGATE_HTTP_PORT: "off",
    // Nothing scrapes Prometheus in the deployment: the metrics go to CloudWatch as EMF lines on stdout instead,
    // with the deployment (the queue prefix, `<app>-<stage>`) as the `cluster` dimension.
    MQGATE_METRICS_PORT: "off",
    MQGATE_EMF__INTERVAL_SECONDS: String(EMF_INTERVAL_SECONDS),
    MQGATE_EMF__NAMESPACE: METRICS_NAMESPACE,
    MQGATE_EMF__CLUSTER: opts.queuePrefix,
    MQGATE_LOG_LEVEL: "info",
    MQGATE_MAX_CONNECTIONS: String(MAX_CONNECTIONS_PER_TASK),
    MQGATE_DRAIN_MS: String(opts.drainMs ?? DRAIN_MS),
    // The load balancer does not preserve client addresses (infra/broker.ts: the tasks' security group admits the
    // VPC only): every device seems to come from one of the load balancer's few addresses, so per-address limits
    // would cap whole availability zones. Off here; the authentication queue still bounds the work (decision 010).
    MQGATE_LIMITS__MAX_CONNECTIONS_PER_ADDRESS: "0",
    MQGATE_LIMITS__CONNECTION_RATE_PER_ADDRESS: "0",
    // The store backends are a chain (auth.backends); acl and allow-all keep the auth.mode shorthand.
    ...(opts.auth === "store" || opts.auth === "store,acl" ? { MQGATE_AUTH_BACKENDS: opts.auth } : { MQGATE_AUTH_MODE: opts.auth }),
    // Cluster: node queues in SQS (AWS's endpoint); the events queue URL is added by infra/broker.ts (an Output).
    MQGATE_COMMUNICATOR: "sqs",
    MQGATE_QUEUE_PREFIX: opts.queuePrefix,
    // The fast lane between brokers: a fixed port, open between broker tasks only.
    MQGATE_CLUSTER__LINK_PORT: String(LINK_PORT),
  };
  if (opts.tls !== undefined) {
    env.MQGATE_TLS_PORT = String(CONTAINER_PORTS.mqtts);
    env.MQGATE_TLS_CERT = `${TLS_DIR}/server.crt`;
    env.MQGATE_TLS_KEY = `${TLS_DIR}/server.key`;
    env.MQGATE_TLS_CLIENT_CERTS = opts.tls.clientCerts;
    if (opts.tls.clientCerts !== "off") env.MQGATE_TLS_CA = `${TLS_DIR}/ca.crt`;
  }
  if (usesAclFile(opts.auth)) {
    if (opts.aclFile === undefined) throw new Error(`auth '${opts.auth}' needs an ACL file`);
    env.MQGATE_ACL_FILE = aclImagePath(opts.aclFile);
  }
  return env;
}

/** Variables the task receives from SSM SecureString parameters instead of plain environment. */
export const BROKER_SECRET_ENV = ["MQGATE_REDIS_URL", "MQGATE_CLUSTER__LINK_SECRET"] as const;

/**
 * The node link secret: generated once (AWS's GetRandomPassword, letters and digits), stored as an SSM
 * SecureString and never regenerated by later deploys (the parameter ignores changes of its value), so old and new
 * tasks of a rolling deploy share it. Rotate: overwrite the parameter, then force a new deployment (during the
 * roll, links between old and new tasks fail the handshake and their forwards go by SQS).
 */
export const LINK_SECRET = { length: 48, excludePunctuation: true } as const;

/** The ACL file's path inside the image. */
export function aclImagePath(aclFile: string): string {
  const name = aclFile.split("/").pop();
  if (name === undefined || name === "") throw new Error(`not a file path: '${aclFile}'`);
  return `${ACL_DIR}/${name}`;
}

/** Which Dockerfile stage to build, and its build arguments. */
export function brokerImage(settings: Pick<DeploySettings, "auth" | "aclFile">): {
  dockerfile: string;
  target: "broker" | "broker-acl";
  args: Record<string, string>;
} {
  return usesAclFile(settings.auth)
    ? { dockerfile: "infra/broker.Dockerfile", target: "broker-acl", args: { ACL_FILE: settings.aclFile } }
    : { dockerfile: "infra/broker.Dockerfile", target: "broker", args: {} };
}

export interface ContainerHealthCheck {
  /** Exec form, without Docker's "CMD" marker. */
  command: string[];
  intervalSeconds: number;
  timeoutSeconds: number;
  retries: number;
  startPeriodSeconds: number;
}

/**
 * The container's own health check (ECS replaces a task that fails it; the Dockerfile's HEALTHCHECK is the same
 * for `docker run`): a PINGREQ before CONNECT on the local MQTT listener, which the broker must close
 * (infra/broker-healthcheck.mjs). Unlike the load balancer's TCP check, it notices a process whose event loop is
 * stuck; unlike a CONNECT, it needs no credentials and touches neither the authenticator nor the store.
 */
export function brokerHealthCheck(): ContainerHealthCheck {
  return { command: ["node", HEALTHCHECK_SCRIPT], intervalSeconds: 30, timeoutSeconds: 5, retries: 3, startPeriodSeconds: 15 };
}

export interface BrokerScaling {
  min: number;
  max: number;
  /** Target average CPU, percent. Node runs one event loop per task: scale before it saturates. */
  cpuUtilization: number;
  /** Target average memory, percent: idle connections cost memory, not CPU. */
  memoryUtilization: number;
  /** Scale out fast, scale in slowly: every scale-in disconnects the clients of the stopped task. */
  scaleOutCooldownSeconds: number;
  scaleInCooldownSeconds: number;
}

export function brokerScaling(settings: Pick<DeploySettings, "minBrokers" | "maxBrokers">): BrokerScaling {
  if (settings.minBrokers < 1 || settings.minBrokers > settings.maxBrokers) {
    throw new Error(`broker scaling bounds ${settings.minBrokers}..${settings.maxBrokers} are invalid`);
  }
  return {
    min: settings.minBrokers,
    max: settings.maxBrokers,
    cpuUtilization: 60,
    memoryUtilization: 75,
    scaleOutCooldownSeconds: 60,
    scaleInCooldownSeconds: 900,
  };
}

/**
 * Adds `stopTimeout` to every container of an ECS task definition's `containerDefinitions` JSON (SST's Service
 * has no option for it; infra/broker.ts applies this through a transform).
 */
export function withStopTimeout(containerDefinitionsJson: string, seconds: number): string {
  const defs: unknown = JSON.parse(containerDefinitionsJson);
  if (!Array.isArray(defs)) throw new Error("containerDefinitions must be a JSON array");
  return JSON.stringify(defs.map((d: Record<string, unknown>) => ({ ...d, stopTimeout: seconds })));
}
