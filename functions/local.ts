import { EventEmitter } from "node:events";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { Broker } from "../broker/broker.js";
import type { MqgateConfig } from "../core/config/types.js";
import { seedDevKey, generateApiKey } from "./api-keys.js";
import { localBackend } from "./backend-local.js";
import { startHttpAdapter } from "./local-http.js";
import { gatewayLimits } from "./route.js";
import { createApi } from "./router.js";

export interface LocalApiEvents {
  /** A request failed unexpectedly (answered 500): for the process edge to log. */
  "request.failed": [err: unknown, event: APIGatewayProxyEventV2];
}

/** The REST API served next to the broker of this process (`npm start`). */
export interface LocalApi extends EventEmitter<LocalApiEvents> {
  readonly host: string;
  readonly port: number;
  /**
   * Where the development key came from: MQGATE_API_KEY ("env"), generated at this start ("generated", then
   * `key` holds it, to print), or none (a shared Redis store and no MQGATE_API_KEY: use `npm run keys`).
   */
  readonly devKey: { source: "env" | "generated"; key: string } | { source: "none" };
  close(): Promise<void>;
}

/**
 * Seeds the development key and starts the HTTP adapter on `config.http` with the in-process broker as backend.
 * The development key (id `dev`, scope admin, topics #) comes from MQGATE_API_KEY; without it, a key is
 * generated, but only on the memory store: on a shared Redis store, keys are managed with `npm run keys`.
 */
export async function startLocalApi(broker: Broker, config: MqgateConfig): Promise<LocalApi> {
  const limits = gatewayLimits(config);
  const store = broker.store;
  let devKey: LocalApi["devKey"] = { source: "none" };
  if (config.apiKey !== undefined) {
    await seedDevKey(store, config.apiKey, limits.topic);
    devKey = { source: "env", key: config.apiKey };
  } else if (store.kind === "memory") {
    const key = generateApiKey();
    await seedDevKey(store, key, limits.topic);
    devKey = { source: "generated", key };
  }
  const events = new EventEmitter<LocalApiEvents>();
  const handler = createApi({
    backend: localBackend(broker),
    limits,
    onError: (err, event) => events.emit("request.failed", err, event),
  });
  const port = config.http.port ?? 0;
  const adapter = await startHttpAdapter(handler, { host: config.http.host, port, maxBodyBytes: limits.maxBodyBytes });
  return Object.assign(events, {
    host: adapter.host,
    port: adapter.port,
    devKey,
    close: () => adapter.close(),
  });
}
