/** Typed configuration: read once at startup, defaulted, validated. See docs/configuration.md. */
export type {
  AuthConfig,
  DeepPartial,
  DropPolicy,
  LimitsConfig,
  ListenerConfig,
  MqgateConfig,
  TlsListenerConfig,
  WsListenerConfig,
} from "./types.js";
export { ConfigError, type ConfigIssue, type ConfigIssueSource } from "./errors.js";
export { defaultNodeId, loadConfig, loadConfigSync, redactConfig, type LoadConfigOptions } from "./load.js";
export {
  AUTH_MODES,
  configFileSchema,
  configKeyPaths,
  configSchema,
  DEFAULTS,
  DROP_POLICIES,
  LOG_LEVELS,
  MQTT_MAX_PACKET_SIZE,
} from "./schema.js";
export { CONFIG_FILE_ENV, ENV_VARS, envNameOf, envValueOf, envVarOf, SHORT_ENV_VARS, type EnvVarSpec } from "./env.js";
