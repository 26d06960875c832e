/** VPC: two zones, public subnets for the brokers, no NAT (infra/plan/network.ts explains why). */
import { networkPlan } from "./plan/network.js";

export const vpc = new sst.aws.Vpc("Vpc", networkPlan());
