import type { IConnackPacket, IConnectPacket } from "mqtt-packet";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { Auth } from "../../core/auth/types.js";
import type { DeepPartial, MqgateConfig } from "../../core/config/types.js";
import type { Store } from "../../core/store/types.js";
import { startTestBroker, type TestBroker } from "./broker.js";
import { RawClient } from "./raw-client.js";

export interface BrokerFixture {
  /** The broker, started in beforeAll and closed in afterAll. */
  readonly b: TestBroker;
  /** A socket to `port` (the fixture's broker by default) with nothing sent yet; destroyed after the test. */
  open(port?: number): Promise<RawClient>;
  /** Opens a socket and sends CONNECT (see RawClient#connect); returns the client and its CONNACK, accepted or not. */
  connect(fields?: Partial<IConnectPacket>, port?: number): Promise<[RawClient, IConnackPacket]>;
  /** A client whose CONNECT was accepted (see RawClient.connected); destroyed after the test. */
  raw(fields?: Partial<IConnectPacket>, port?: number): Promise<RawClient>;
  /** Has `c` destroyed after the current test; returns it. */
  track<T extends { destroy(): void }>(c: T): T;
}

/**
 * Starts a test broker for the enclosing file or describe block and destroys the clients it hands out after each
 * test. `auth` may be a function, called in beforeAll, for an authenticator that takes time to build.
 */
export function useBroker(overrides: DeepPartial<MqgateConfig> = {}, auth?: Auth | (() => Promise<Auth>), store?: Store | (() => Promise<Store>)): BrokerFixture {
  let broker: TestBroker | undefined;
  const tracked: { destroy(): void }[] = [];

  beforeAll(async () => {
    broker = await startTestBroker(overrides, typeof auth === "function" ? await auth() : auth, typeof store === "function" ? await store() : store);
  });
  afterEach(() => {
    for (const c of tracked.splice(0)) c.destroy();
  });
  afterAll(async () => {
    await broker?.close();
  });

  const fixture: BrokerFixture = {
    get b(): TestBroker {
      if (broker === undefined) throw new Error("the test broker is not running (used outside a test or hook?)");
      return broker;
    },
    track(c) {
      tracked.push(c);
      return c;
    },
    async open(port = fixture.b.mqttPort) {
      return fixture.track(await RawClient.open(port));
    },
    async connect(fields = {}, port) {
      const c = await fixture.open(port);
      return [c, await c.connect(fields)];
    },
    async raw(fields = {}, port = fixture.b.mqttPort) {
      return fixture.track(await RawClient.connected(port, fields));
    },
  };
  return fixture;
}
