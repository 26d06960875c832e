import { expect } from "vitest";
import { createAllowAll } from "../../../core/auth/index.js";
import type { DeepPartial, MqgateConfig } from "../../../core/config/types.js";
import type { Store } from "../../../core/store/types.js";
import { createApiKey } from "../../../functions/api-keys.js";
import { localBackend } from "../../../functions/backend-local.js";
import { gatewayLimits, type GatewayLimits } from "../../../functions/route.js";
import { type ApiHandler, createApi } from "../../../functions/router.js";
import type { IClientOptions } from "mqtt";
import { startTestBroker, type TestBroker } from "../../helpers/broker.js";
import { RawClient } from "../../helpers/raw-client.js";
import { type CallResult, mqttClient, type TestClient, until } from "../support.js";

export type StoreFactory = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

export interface Env {
  broker: TestBroker;
  store: Store;
  api: ApiHandler;
  admin: string;
  reader: string;
  publisher: string;
  /** Keys restricted to devices/#. */
  devReader: string;
  devPublisher: string;
  devAdmin: string;
  /** An `mqtt` client; `protocolVersion: 5` for an MQTT 5 one (its messages carry their properties). */
  connect(clientId: string, opts?: { clean?: boolean; protocolVersion?: 4 | 5; properties?: IClientOptions["properties"] }): Promise<TestClient>;
  /** A raw MQTT 5 client, connected (closed with the test); `frames()` is every byte the broker sent it. */
  raw5(clientId: string, properties?: Record<string, unknown>, clean?: boolean): Promise<{ client: RawClient; frames: () => Buffer }>;
}

/** Builds a fresh environment per call: a store, a broker on it, the API on the local backend, keys. */
export type Setup = (overrides?: DeepPartial<MqgateConfig>, limits?: Partial<GatewayLimits>) => Promise<Env>;

export function makeSetup(makeStore: StoreFactory, cleanups: (() => Promise<void>)[]): Setup {
  return async (overrides = {}, limits = {}) => {
    const { store, cleanup } = await makeStore();
    cleanups.push(cleanup);
    const broker = await startTestBroker(overrides, createAllowAll(), store);
    cleanups.push(() => broker.close());
    const api = createApi({ backend: localBackend(broker.broker), limits: { ...gatewayLimits(broker.config), ...limits } });
    const t = gatewayLimits(broker.config).topic;
    const mk = async (scopes: ("publish" | "read" | "admin")[], topics = ["#"]) => (await createApiKey(store, { name: `${scopes.join("+")} ${topics.join(" ")}`, scopes, topics }, t)).key;
    const clients: TestClient[] = [];
    const raws: RawClient[] = [];
    cleanups.push(async () => {
      for (const c of clients) c.client.end(true);
      for (const r of raws) r.destroy();
    });
    return {
      broker,
      store,
      api,
      admin: await mk(["admin"]),
      reader: await mk(["read"]),
      publisher: await mk(["publish"]),
      devReader: await mk(["read"], ["devices/#"]),
      devPublisher: await mk(["publish"], ["devices/#"]),
      devAdmin: await mk(["admin"], ["devices/#"]),
      async connect(clientId, opts = {}) {
        const { clean = true, protocolVersion = 4, properties } = opts;
        const c = await mqttClient(broker.mqttPort, clientId, { clean, protocolVersion, ...(properties !== undefined ? { properties } : {}) });
        clients.push(c);
        return c;
      },
      async raw5(clientId, properties = {}, clean = true) {
        const client = await RawClient.open(broker.mqttPort, "127.0.0.1", undefined, 5);
        raws.push(client);
        const chunks: Buffer[] = [];
        client.socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        const connack = await client.connect({ clientId, clean, properties });
        if (connack.reasonCode !== 0) throw new Error(`${clientId} refused: ${JSON.stringify(connack)}`);
        return { client, frames: () => Buffer.concat(chunks) };
      },
    };
  };
}

export function expectProblem(res: CallResult, status: number, type: string): void {
  expect(res.status).toBe(status);
  expect(res.headers["content-type"]).toBe("application/problem+json");
  expect(res.body).toMatchObject({ type: `urn:mqgate:problem:${type}`, status });
  expect(typeof res.body.title).toBe("string");
  expect(typeof res.body.detail).toBe("string");
  expect(typeof res.body.requestId).toBe("string");
}

/** A persistent session that is offline now. */
export async function offlineSession(env: Env, clientId: string, filter?: string, qos: 0 | 1 | 2 = 1): Promise<void> {
  const c = await env.connect(clientId, { clean: false });
  if (filter !== undefined) await c.client.subscribeAsync(filter, { qos });
  await c.client.endAsync();
  await until("session offline in the store", async () => (await env.store.getSession(clientId))?.node === null);
}
