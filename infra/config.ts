/**
 * The brokers' and the REST functions' configuration in this deployment (docs/configuration.md, every key but the
 * ones the deployment sets itself: infra/plan/config.ts). Typed; checked at `sst deploy` by the processes' own
 * schema. MQGATE_DEPLOY_CONFIG (JSON, same shape) in the deploying shell is applied over it.
 *
 * Example:
 *   export const config: DeployConfig = {
 *     limits: { maxQueued: 5000, maxInflight: 64 },
 *     events: { include: ["sensors/#"] },
 *   };
 */
import { configFromDeployEnv, configEnvironment, type DeployConfig } from "./plan/config.js";

export const config: DeployConfig = {};

/** The generated MQGATE_* variables of `config` (over the cluster defaults), for every broker task and function. */
export const configEnv = configEnvironment(config, configFromDeployEnv(process.env.MQGATE_DEPLOY_CONFIG));
