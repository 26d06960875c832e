import { createAllowAll } from "../../core/auth/index.js";
import type { Auth } from "../../core/auth/types.js";
import { loadConfig } from "../../core/config/index.js";
import type { DeepPartial, MqgateConfig } from "../../core/config/types.js";
import type { Store } from "../../core/store/types.js";
import { type BrokerParts, type RunningBroker, startBroker } from "../../broker/server.js";

export interface TestBroker extends RunningBroker {
  readonly mqttPort: number;
  readonly config: MqgateConfig;
}

/**
 * Starts a real broker in this process on free loopback ports (MQTT over TCP, and WebSocket when asked),
 * with the environment ignored so a developer's MQGATE_* variables cannot leak into tests.
 */
export async function startTestBroker(
  overrides: DeepPartial<MqgateConfig> = {},
  auth: Auth = createAllowAll(),
  store?: Store,
  parts?: BrokerParts,
): Promise<TestBroker> {
  const config = await loadConfig({
    env: {},
    overrides: {
      ...overrides,
      nodeId: overrides.nodeId ?? "test-node",
      mqtt: { host: "127.0.0.1", port: 0, ...overrides.mqtt },
      ws: { host: "127.0.0.1", port: null, ...overrides.ws },
      tls: { host: "127.0.0.1", port: null, ...overrides.tls },
      http: { port: null, ...overrides.http },
      metrics: { port: null, ...overrides.metrics },
      sysIntervalSeconds: overrides.sysIntervalSeconds ?? 0,
      log: { level: "silent" },
    },
  });
  const running = await startBroker(config, auth, store, parts);
  return Object.assign(running, { mqttPort: running.port("tcp"), config });
}
