import { describe } from "vitest";
import { claimRepeatTests } from "./store/claim-repeats.js";
import { clusterTests } from "./store/cluster.js";
import { discardTests } from "./store/discard.js";
import { type StoreFactory, useStore } from "./store/fixtures.js";
import { identityTests } from "./store/identities.js";
import { idempotencyTests } from "./store/idempotency.js";
import { messageTests } from "./store/messages.js";
import { orderKeyTests } from "./store/order.js";
import { ownershipTests } from "./store/ownership.js";
import { propertyTests } from "./store/properties.js";
import { retainedTests } from "./store/retained.js";
import { retryTests } from "./store/retries.js";
import { sentTests } from "./store/sent.js";
import { routeTests } from "./store/routes.js";
import { sessionTests } from "./store/sessions.js";
import { stateTests } from "./store/state.js";
import { subscriptionTests } from "./store/subscriptions.js";
import { willTests } from "./store/wills.js";

export type { StoreFactory, StoreHarness } from "./store/fixtures.js";

/**
 * The Store contract (core/store/types.ts). Every implementation runs it: memory, Redis over TCP, Redis over
 * Upstash REST. `create` returns a fresh, empty store for each test and a cleanup that closes it.
 * The parts live in test/contract/store/ to keep files readable; this is the one entry point.
 */
export function storeContract(name: string, create: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    const ctx = useStore(create);
    sessionTests(ctx);
    subscriptionTests(ctx);
    messageTests(ctx);
    stateTests(ctx);
    sentTests(ctx);
    retryTests(ctx);
    retainedTests(ctx);
    clusterTests(ctx);
    ownershipTests(ctx);
    identityTests(ctx);
    routeTests(ctx);
    willTests(ctx);
    idempotencyTests(ctx);
    propertyTests(ctx);
    orderKeyTests(ctx);
    discardTests(ctx);
    claimRepeatTests(ctx);
  });
}
