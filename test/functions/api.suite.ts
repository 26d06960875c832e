import { afterEach, describe } from "vitest";
import { clientsTests } from "./suite/clients.js";
import { makeSetup, type StoreFactory } from "./suite/env.js";
import { idempotencyTests } from "./suite/idempotency.js";
import { propertiesTests } from "./suite/properties.js";
import { propertiesRawTests } from "./suite/properties-raw.js";
import { publishTests } from "./suite/publish.js";
import { retainedAndClusterTests } from "./suite/retained.js";
import { routingTests } from "./suite/routing.js";

export type { StoreFactory } from "./suite/env.js";

/**
 * The REST handlers with real API Gateway v2 events against a real store: the same suite runs on the memory
 * store, Redis over TCP and Redis over Upstash REST. The backend is the in-process broker on that store, so
 * publishes, kicks and subscriptions have the broker's full semantics and their durability is checked in the
 * store itself. Every route, every error status and the key scopes are covered.
 */
export function apiSuite(name: string, makeStore: StoreFactory): void {
  describe(`REST API handlers on ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });
    const setup = makeSetup(makeStore, cleanups);
    routingTests(setup);
    publishTests(setup);
    propertiesTests(setup);
    propertiesRawTests(setup);
    idempotencyTests(setup);
    clientsTests(setup);
    retainedAndClusterTests(setup);
  });
}
