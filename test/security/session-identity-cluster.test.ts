import { afterEach, describe, expect, it } from "vitest";
import { createAclAuth } from "../../core/auth/index.js";
import { MemoryCommunicator, MemoryRegistry } from "../../core/communicator/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { RawClient } from "../helpers/raw-client.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { aclDoc, connectAs, leave, publish1, text, until } from "./support.js";
import { routesTo } from "../helpers/wait.js";

/*
 * Session ownership across cluster nodes: the identity lives in the store's session record and is checked atomically
 * by the claim, so any node refuses another identity's CONNECT (0x05), including one that holds no copy of the
 * session (decision 017: only the node serving a session holds it; the others know its filters as routes), and
 * neither the session nor the owner's connection on another node is touched.
 */

const nodes: TestBroker[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

let now = Date.now();

async function twoNodes(): Promise<{ a: TestBroker; b: TestBroker; store: MemoryStore }> {
  const store = new MemoryStore();
  const registry = new MemoryRegistry();
  const auth = createAclAuth(await aclDoc());
  now = Date.now();
  for (const nodeId of ["node-1", "node-2"]) {
    nodes.push(
      await startTestBroker({ nodeId, cluster: { heartbeatMs: 200, nodeTtlMs: 1000 }, limits: { sessionExpirySeconds: 60 } }, auth, store, {
        communicator: new MemoryCommunicator({ registry }),
        now: () => now,
        expirySweep: { intervalMs: 3_600_000 },
      }),
    );
  }
  return { a: nodes[0] as TestBroker, b: nodes[1] as TestBroker, store };
}


describe("session ownership across nodes", () => {
  it("eve on node-2 cannot take alice's live session on node-1 (0x05): alice stays connected and keeps receiving", async () => {
    const { a, b, store } = await twoNodes();
    const [alice, ok] = await connectAs(a.mqttPort, "alice", { clientId: "alice-c", clean: false });
    clients.push(alice);
    expect(ok.returnCode).toBe(0);
    await alice.subscribe("secrets/#", 1);
    // Node-2 learns only node-1's route for the filter; the session and its owner stay with node-1 and the store.
    await until(() => routesTo(b, "secrets/x", "node-1"), "node-2 to learn node-1's route for secrets/#");
    expect(b.broker.sessions.has("alice-c")).toBe(false);
    expect(a.broker.sessions.get("alice-c")?.identity).toBe("user:alice");
    const epoch = (await store.getSession("alice-c"))?.epoch;
    for (const clean of [false, true]) {
      const [eve, refused] = await connectAs(b.mqttPort, "eve", { clientId: "alice-c", clean });
      expect(refused.returnCode).toBe(5);
      await eve.waitClosed();
    }
    // The refused claim changed nothing: same epoch, owner, custodian and subscriptions; no copy left on node-2.
    expect(await store.getSession("alice-c")).toMatchObject({ epoch, node: "node-1", identity: "user:alice", subscriptions: { "secrets/#": 1 } });
    expect(await store.custodianOf("alice-c")).toBe("node-1");
    expect(b.broker.sessions.has("alice-c")).toBe(false);
    await publish1(b.mqttPort, "secrets/x", "cross-node");
    const msg = await alice.expect("publish");
    expect(text(msg)).toBe("cross-node");
    expect(alice.closed).toBe(false);
  });

  it("a node that does not know the session yet is refused by the store's claim, which changes nothing", async () => {
    const { a, store } = await twoNodes();
    // Created behind every node's back (as by a node that died before broadcasting): only the store knows the owner.
    const claimed = await store.claimSession("ghost-owned", { node: "node-9", clean: false, username: "alice", now: Date.now(), identity: "user:alice" });
    await store.updateSubscriptions("ghost-owned", claimed.epoch, { "secrets/#": 1 }, []);
    expect(a.broker.sessions.has("ghost-owned")).toBe(false);
    const [eve, refused] = await connectAs(a.mqttPort, "eve", { clientId: "ghost-owned", clean: true });
    expect(refused.returnCode).toBe(5);
    await eve.waitClosed();
    expect(await store.getSession("ghost-owned")).toMatchObject({ epoch: claimed.epoch, node: "node-9", subscriptions: { "secrets/#": 1 } });
    expect(a.broker.sessions.has("ghost-owned")).toBe(false);
  });

  it("alice resumes on the other node with what was queued while eve was refused", async () => {
    const { a, b, store } = await twoNodes();
    const [alice] = await connectAs(a.mqttPort, "alice", { clientId: "alice-m", clean: false });
    await alice.subscribe("secrets/#", 1);
    await leave(alice, store, "alice-m");
    await publish1(a.mqttPort, "secrets/q", "queued");
    const [eve, refused] = await connectAs(b.mqttPort, "eve", { clientId: "alice-m", clean: false });
    expect(refused.returnCode).toBe(5);
    await eve.waitClosed();
    const [back, ack] = await connectAs(b.mqttPort, "alice", { clientId: "alice-m", clean: false });
    clients.push(back);
    expect(ack).toEqual({ returnCode: 0, sessionPresent: true });
    expect(text(await back.expect("publish"))).toBe("queued");
  });

  it("a session expired by one node's sweep is gone from every node, and its client id is free again", async () => {
    const { a, b, store } = await twoNodes();
    const [alice] = await connectAs(a.mqttPort, "alice", { clientId: "alice-x", clean: false });
    await alice.subscribe("secrets/#", 1);
    await leave(alice, store, "alice-x");
    // Offline in node-1's custody: node-1 holds it, node-2 knows only node-1's route for its filter.
    await until(() => routesTo(b, "secrets/x", "node-1"), "node-2 to learn node-1's route for the offline session");
    expect(a.broker.sessions.get("alice-x")?.identity).toBe("user:alice");
    expect(b.broker.sessions.has("alice-x")).toBe(false);
    now += 60_000;
    // Swept first by the node that does not hold it: the custodian must still drop its copy and its route.
    expect(await b.expiry.sweep()).toBe(1);
    expect(await a.expiry.sweep()).toBe(0);
    await until(() => !a.broker.sessions.has("alice-x") && !b.broker.sessions.has("alice-x"), "both nodes to drop the session");
    await until(() => !routesTo(b, "secrets/x", "node-1") && !routesTo(a, "secrets/x", "node-1"), "node-1's route for the session to go");
    expect(await store.getSession("alice-x")).toBeNull();
    expect(await store.custodianOf("alice-x")).toBeNull();
    const [eve, ok] = await connectAs(b.mqttPort, "eve", { clientId: "alice-x", clean: false });
    clients.push(eve);
    expect(ok).toEqual({ returnCode: 0, sessionPresent: false });
  });
});
