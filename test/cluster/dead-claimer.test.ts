import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { MemoryCommunicator, type MemoryRegistry } from "../../core/communicator/index.js";
import type { MemoryStore } from "../../core/store/memory.js";
import type { TestBroker } from "../helpers/broker.js";
import { until } from "../helpers/wait.js";
import { slowClaims, useInProcessCluster } from "./in-process-support.js";

/**
 * Decision 040: a node that dies between its claim of a session and its take-over kick leaves the node it took the
 * client from untold. Here the dead claimer is a "ghost": its claim is made in the store directly (as node-2's
 * client moves to it), and its node queue exists but nobody reads it. The next claim names node-2 as an earlier
 * holder, and node-2's old connection must be closed.
 */

const { cluster, connect, clients } = useInProcessCluster();

/** A node queue that nobody reads (its node died) and a claim of `clientId` by that node, under a claim id. */
async function ghostClaim(store: MemoryStore, registry: MemoryRegistry, clientId: string): Promise<void> {
  const ghost = new MemoryCommunicator({ registry });
  await ghost.start("ghost", async () => {
    throw new Error("dead");
  });
  await ghost.stop();
  await store.claimSession(clientId, { node: "ghost", clean: false, username: null, now: Date.now(), claimId: "ghost-claim" });
}

async function oldConnection(n2: TestBroker): Promise<{ closed: () => boolean }> {
  const old = await connect(n2, "dev", { clean: false });
  let closed = false;
  old.once("close", () => (closed = true));
  return { closed: () => closed };
}

describe("a claimer that died before its take-over kick (decision 040)", () => {
  it("the next claim kicks the node it took the client from once the dead claimer stayed silent", async () => {
    const { nodes, store, registry } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const old = await oldConnection(n2);
    await ghostClaim(store, registry, "dev");
    await connect(n1, "dev", { clean: false });
    await until(() => old.closed(), "node-2's old connection to be closed", 5000);
    expect(n2.broker.sessions.get("dev")?.link ?? null).toBeNull();
  });

  it("also when the client left while the next claim was in progress (no settle wait follows)", async () => {
    const { nodes, store, registry } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const old = await oldConnection(n2);
    await ghostClaim(store, registry, "dev");
    const slow = slowClaims(store);
    const leaving = mqtt.connect({ host: "127.0.0.1", port: n1.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    clients.push(leaving);
    const claiming = (): boolean => (n1.broker.sessions.get("dev")?.claimant ?? null) !== null;
    await until(claiming, "node-1's claim to start");
    leaving.end(true);
    await until(() => !claiming() || leaving.disconnected, "the client to leave");
    slow.release();
    await until(() => old.closed(), "node-2's old connection to be closed", 5000);
  });
});
