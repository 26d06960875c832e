/**
 * The broker service's network: container and public ports, the network load balancer's listeners (TLS policy,
 * TCP health checks, deregistration delay) and the security group of the node links. Pure values; infra/plan/broker.ts
 * re-exports them for infra/broker.ts, which hands them to SST.
 */

/**
 * Container listeners. TLS is terminated by the load balancer, so the broker's own TLS listener stays off, except
 * with TLS passthrough (MQGATE_DEPLOY_TLS_PASSTHROUGH): then the broker serves MQTT over TLS on `mqtts` itself.
 */
export const CONTAINER_PORTS = { mqtt: 1883, ws: 8083, mqtts: 8883 } as const;
/** The WebSocket path (the broker's default `ws.path`). */
export const WS_PATH = "/mqtt";
/**
 * The node links' port (docs/cluster.md, "Fast lane"): brokers forward to each other over it. Never behind the
 * load balancer; open only between broker tasks (brokerLinkSecurityGroup).
 */
export const LINK_PORT = 7946;
/** Public ports on the load balancer. */
export const PUBLIC_PORTS = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 } as const;

/**
 * How long the load balancer keeps a stopping task registered before ECS sends SIGTERM. New connections go to
 * other tasks from the start of this delay; existing ones continue until the broker's drain closes them. The
 * default (300 s) would hold every deployment and scale-in for five minutes.
 */
export const DEREGISTRATION_DELAY_SECONDS = 15;

export interface SecurityGroupRule {
  protocol: "tcp";
  fromPort: number;
  toPort: number;
  /** The group itself: only tasks that carry it. */
  self: true;
  description: string;
}

/**
 * A security group of its own for the broker tasks' links: the link port admits (and reaches) only tasks that
 * carry this group. The VPC's default group of the tasks stays as it is (the load balancer's ports).
 */
export function brokerLinkSecurityGroup(port: number = LINK_PORT): { ingress: SecurityGroupRule[]; egress: SecurityGroupRule[] } {
  const rule: SecurityGroupRule = { protocol: "tcp", fromPort: port, toPort: port, self: true, description: "mqgate node links between broker tasks" };
  return { ingress: [rule], egress: [rule] };
}

/**
 * Security policy of the load balancer's TLS listeners: TLS 1.3 and 1.2 only, forward-secret ciphers. Devices whose
 * TLS stack predates 1.2 cannot connect; that is deliberate.
 */
export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

type Tcp = `${number}/tcp`;
type Tls = `${number}/tls`;

/** One load balancer listener: public port/protocol → container port/protocol. */
export interface PortRule {
  listen: Tcp | Tls;
  forward: Tcp;
}

/**
 * Load balancer listeners. Plain MQTT 1883 and ws:// on 80 unless `plaintext` is false; with a domain also
 * MQTT over TLS on 8883 and wss:// on 443, TLS terminated by the load balancer with an ACM certificate and
 * forwarded to the same container ports. Everything is TCP: one network load balancer, no HTTP parsing in between.
 */
export function brokerPorts(domain?: string, opts: { plaintext?: boolean; tlsPassthrough?: boolean } = {}): PortRule[] {
  const plaintext = opts.plaintext ?? true;
  const passthrough = opts.tlsPassthrough ?? false;
  if (!plaintext && domain === undefined && !passthrough) throw new Error("without a domain or TLS passthrough, plain MQTT is the only endpoint");
  const mqtt: Tcp = `${CONTAINER_PORTS.mqtt}/tcp`;
  const ws: Tcp = `${CONTAINER_PORTS.ws}/tcp`;
  const rules: PortRule[] = [];
  if (plaintext) {
    rules.push({ listen: `${PUBLIC_PORTS.mqtt}/tcp`, forward: mqtt }, { listen: `${PUBLIC_PORTS.ws}/tcp`, forward: ws });
  }
  // TLS passthrough: 8883 is plain TCP at the load balancer, TLS (and client certificates) end at the broker.
  if (passthrough) rules.push({ listen: `${PUBLIC_PORTS.mqtts}/tcp`, forward: `${CONTAINER_PORTS.mqtts}/tcp` });
  else if (domain !== undefined) rules.push({ listen: `${PUBLIC_PORTS.mqtts}/tls`, forward: mqtt });
  if (domain !== undefined) rules.push({ listen: `${PUBLIC_PORTS.wss}/tls`, forward: ws });
  return rules;
}

export interface TargetHealthCheck {
  intervalSeconds: number;
  timeoutSeconds: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/**
 * The load balancer's TCP health check, per target group (container port). A task that stops answering is out
 * of rotation after 3 × 10 s; a new one takes traffic after 2 × 10 s.
 */
export function loadBalancerHealthChecks(rules: readonly PortRule[]): Record<Tcp, TargetHealthCheck> {
  const check: TargetHealthCheck = { intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 2, unhealthyThreshold: 3 };
  return Object.fromEntries([...new Set(rules.map((r) => r.forward))].map((port) => [port, check])) as Record<Tcp, TargetHealthCheck>;
}
