import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { owner } from "../../broker/adoption.js";
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
async function ghostClaim(store: MemoryStore, registry: MemoryRegistry, clientId: string, node = "ghost"): Promise<void> {
  const ghost = new MemoryCommunicator({ registry });
  await ghost.start(node, async () => {
    throw new Error("dead");
  });
  await ghost.stop();
  await store.claimSession(clientId, { node, clean: false, username: null, now: Date.now(), claimId: `${node}-claim` });
}

/** The ghost's node record, expired: the survivors adopt what is in its custody (decision 017). */
async function ghostExpired(store: MemoryStore, node = "ghost"): Promise<void> {
  await store.registerNode({ nodeId: node, address: "gone:1883", queueUrl: null, startedAt: Date.now() - 60_000, heartbeatAt: Date.now() - 10_000 }, 500);
}

/** A client id that rendezvous hashing over node-1 and node-2 gives to `node` (the survivor that adopts its session). */
function idAdoptedBy(node: string): string {
  for (let i = 0; ; i++) if (owner(`dev-${i}`, ["node-1", "node-2"]) === node) return `dev-${i}`;
}

async function oldConnection(n2: TestBroker, clientId = "dev"): Promise<{ closed: () => boolean }> {
  const old = await connect(n2, clientId, { clean: false });
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

  it("a cascade: the next claim kicks the node that the claimer before the dead claimer took the client from", async () => {
    const { nodes, store, registry } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const old = await oldConnection(n2);
    // ghost-1 took the client from node-2 and died before kicking it; ghost-2 took it from ghost-1 and died too.
    await ghostClaim(store, registry, "dev", "ghost-1");
    await ghostClaim(store, registry, "dev", "ghost-2");
    await connect(n1, "dev", { clean: false });
    await until(() => old.closed(), "node-2's old connection to be closed", 5000);
    expect(n2.broker.sessions.get("dev")?.link ?? null).toBeNull();
  });
});

describe("a claimer that died before its take-over kick, its session adopted (decisions 017 and 040)", () => {
  it("adopted by another node: that node kicks the node the dead claimer took the client from, which would serve it beside its next connection", async () => {
    const { nodes, store, registry } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const id = idAdoptedBy("node-1");
    const old = await oldConnection(n2, id);
    await ghostClaim(store, registry, id);
    await ghostExpired(store);
    await until(async () => (await store.custodianOf(id)) === "node-1", "node-1 adopting the ghost's session", 5000);
    await connect(n1, id, { clean: false });
    await until(() => old.closed(), "node-2's old connection to be closed", 3000);
    expect(n2.broker.sessions.get(id)?.link ?? null).toBeNull();
  });

  it("adopted by the node the dead claimer took the client from: it closes its old connection and holds the session offline", async () => {
    const { nodes, store, registry } = await cluster(2);
    const n2 = nodes[1] as TestBroker;
    const id = idAdoptedBy("node-2");
    const old = await oldConnection(n2, id);
    await ghostClaim(store, registry, id);
    await ghostExpired(store);
    await until(async () => (await store.custodianOf(id)) === "node-2", "node-2 adopting the ghost's session", 5000);
    await until(() => old.closed(), "node-2's old connection to be closed", 3000);
    const held = n2.broker.sessions.get(id);
    expect(held?.link ?? null).toBeNull();
    expect(held?.epoch).toBe((await store.getSession(id))?.epoch);
  });
});
