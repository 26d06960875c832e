import { describe } from "vitest";
import { type CommunicatorFactory, useHarness } from "./communicator/fixtures.js";
import { lifecycleTests } from "./communicator/lifecycle.js";
import { messagingTests } from "./communicator/messaging.js";

export type { CommunicatorFactory, CommunicatorHarness } from "./communicator/fixtures.js";

/**
 * The Communicator contract (core/communicator/types.ts). Every implementation runs it: in-process and SQS
 * (against fauxqs). `create` returns a fresh transport for each test: communicators made from one harness see
 * each other's queues and nobody else's.
 */
export function communicatorContract(name: string, create: CommunicatorFactory): void {
  describe(`Communicator contract: ${name}`, () => {
    const ctx = useHarness(create);
    messagingTests(ctx);
    lifecycleTests(ctx);
  });
}
