import type { Auth } from "../../core/auth/types.js";
import type { DeepPartial, MqgateConfig } from "../../core/config/types.js";
import { type BrokerFixture, useBroker } from "../helpers/fixture.js";
import { useRedisStores } from "../helpers/redis-stores.js";

/** The MQTT 5 suite runs on the embedded memory store and on Redis (a real redis-server on a free port). */
export const STORES = ["memory", "redis"] as const;

/** A broker for the enclosing describe block, on the `kind` store. */
export function useBroker5(kind: (typeof STORES)[number], overrides: DeepPartial<MqgateConfig> = {}, auth?: Auth): BrokerFixture {
  if (kind === "memory") return useBroker(overrides, auth);
  const redis = useRedisStores();
  return useBroker(overrides, auth, async () => (await redis.factory()).store);
}
