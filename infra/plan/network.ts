/**
 * The VPC the brokers run in.
 *
 * Two availability zones: the minimum for an ECS service and a network load balancer that survive the loss of
 * one zone, and the brokers' autoscaling minimum (infra/plan/broker.ts) keeps one task in each.
 *
 * No NAT. The broker tasks run in the VPC's public subnets with a public IPv4 address each (what SST's Service
 * does with an SST Vpc) and reach SQS, Upstash, ECR and CloudWatch Logs directly. Inbound traffic is still
 * closed: the tasks' security group admits only the VPC's own address range, which is where the load balancer's
 * connections come from (client IP preservation is off, see infra/broker.ts). The Lambda functions are not in the
 * VPC at all (they use Upstash's HTTPS endpoint and SQS), so they need no NAT either.
 *   - managed NAT gateways: one per zone, about $66 a month for two plus $0.045 per GB, for nothing the
 *     public-subnet tasks cannot do;
 *   - NAT instances (fck-nat): about $6 a month, but a single instance per zone to patch and scale by hand;
 *   - public IPv4 addresses: $0.005 an hour each, $3.65 a month per running task.
 * Put the tasks in private subnets behind NAT only if policy forbids public addresses on tasks; then set
 * `nat: "managed"` here and `containerSubnets` to the private subnets in infra/broker.ts.
 */
export interface NetworkPlan {
  /** Availability zones. */
  az: number;
}

export function networkPlan(): NetworkPlan {
  return { az: 2 };
}
