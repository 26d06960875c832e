import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { owner } from "../../broker/adoption.js";
import { MemoryCommunicator, type MemoryRegistry } from "../../core/communicator/index.js";
import type { MemoryStore } from "../../core/store/memory.js";
import type { TestBroker } from "../helpers/broker.js";
import { until } from "../helpers/wait.js";
import { payloads, slowClaims, useInProcessCluster } from "./in-process-support.js";

/**
 * Decision 040: a node that dies between its claim of a session and its take-over kick leaves the node it took the
 * client from untold. Here the dead claimer is a "ghost": its claim is made in the store directly (as node-2's
 * client moves to it), and its node queue exists but nobody reads it. The next claim names node-2 as an earlier
 * holder, and node-2's old connection must be closed.
 */

const { cluster, connect, clients } = useInProcessCluster();

/**
 * A node queue that nobody reads (its node died) and a claim of `clientId` by that node, under a claim id, made at
 * `now` (in the ghost's clock: before the end of its lease, or an adopter takes it for a claim of a later
 * registration and leaves it; decision 036).
 */
async function ghostClaim(store: MemoryStore, registry: MemoryRegistry, clientId: string, node = "ghost", now = Date.now()): Promise<void> {
  const ghost = new MemoryCommunicator({ registry });
  await ghost.start(node, async () => {
    throw new Error("dead");
  });
  await ghost.stop();
  await store.claimSession(clientId, { node, clean: false, username: null, now, claimId: `${node}-claim` });
}

/** When the ghost beat last: its lease ran out 500 ms later. */
const GHOST_LAST_BEAT_MS_AGO = 10_000;

/** The ghost's node record, expired: the survivors adopt what is in its custody (decision 017). */
async function ghostExpired(store: MemoryStore, node = "ghost"): Promise<void> {
  await store.registerNode({ nodeId: node, address: "gone:1883", queueUrl: null, startedAt: Date.now() - 60_000, heartbeatAt: Date.now() - GHOST_LAST_BEAT_MS_AGO }, 500);
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
    await ghostClaim(store, registry, id, "ghost", Date.now() - GHOST_LAST_BEAT_MS_AGO);
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
    await ghostClaim(store, registry, id, "ghost", Date.now() - GHOST_LAST_BEAT_MS_AGO);
    await ghostExpired(store);
    await until(async () => (await store.custodianOf(id)) === "node-2", "node-2 adopting the ghost's session", 5000);
    await until(() => old.closed(), "node-2's old connection to be closed", 3000);
    const held = n2.broker.sessions.get(id);
    expect(held?.link ?? null).toBeNull();
    expect(held?.epoch).toBe((await store.getSession(id))?.epoch);
  });
});

/** The nodes `node`'s route table names for `topic`. */
function routesTo(node: TestBroker, topic: string): string[] {
  const found: string[] = [];
  node.broker.cluster?.routes.table.match(topic, (n) => found.push(n));
  return found;
}

/** A node queue that exists and that nobody reads (a node that died). */
async function deadQueue(registry: MemoryRegistry, node: string): Promise<void> {
  const comm = new MemoryCommunicator({ registry });
  await comm.start(node, async () => {
    throw new Error("dead");
  });
  await comm.stop();
}

describe("a claimer that died before writing its routes, the custodian it took the session from dead too (decision 023, seed 65)", () => {
  it("the dead custodian's routes stay until the claimer's session was adopted, and what they caught reaches the session", async () => {
    const { nodes, store, registry } = await cluster(2);
    const [n1] = nodes as [TestBroker, TestBroker];
    // x-old kept "dev" offline with its route for d/# and died; x-claimer (alive, as far as the store knows: its
    // lease runs 1.5 s) claimed it and was killed as the store answered, 500 ms (more than two heartbeats) after its
    // last beat: it never wrote routes, and "dev" is in its custody now.
    const T = Date.now() - 60_000;
    await deadQueue(registry, "x-old");
    await deadQueue(registry, "x-claimer");
    await store.claimSession("dev", { node: "x-old", clean: false, username: null, now: T });
    await store.updateSubscriptions("dev", null, { "d/#": 1 }, []);
    await store.updateRoutes("x-old", ["d/#"], []);
    await store.registerNode({ nodeId: "x-claimer", address: "gone:2", queueUrl: null, startedAt: Date.now() - 600, heartbeatAt: Date.now() - 500 }, 1500);
    await store.claimSession("dev", { node: "x-claimer", clean: false, username: null, now: Date.now(), claimId: "x-claim" });
    await store.registerNode({ nodeId: "x-old", address: "gone:1", queueUrl: null, startedAt: T, heartbeatAt: T }, 1000);
    await until(() => routesTo(n1, "d/1").includes("x-old"), "node-1 to read x-old's route");
    // Published while no live node holds "dev": before its adoption from x-claimer, after it, and after x-old's cleanup.
    const pub = await connect(n1, "pub");
    const sent: string[] = [];
    for (let i = 0; i < 25; i++) {
      await pub.publishAsync("d/1", `m${i}`, { qos: 1 });
      sent.push(`m${i}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await until(async () => (await store.custodianOf("dev"))?.startsWith("node-") === true, "dev to be adopted from x-claimer", 5000);
    await until(async () => (await store.routesOf("x-old", { limit: 10 })).items.length === 0, "x-old's routes to be dropped (and its queue drained)", 5000);
    const custodian = nodes.find((n) => n.broker.sessions.has("dev")) ?? n1;
    const dev = mqtt.connect({ host: "127.0.0.1", port: custodian.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    clients.push(dev);
    const got = payloads(dev);
    await until(() => sent.every((m) => got.includes(m)), `every acknowledged message to reach dev (got ${got.length})`, 5000).catch(() => undefined);
    expect(sent.filter((m) => !got.includes(m))).toEqual([]);
  }, 20_000);
});
