import { ListQueuesCommand } from "@aws-sdk/client-sqs";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeQueueName } from "../../core/communicator/queue-names.js";
import { type LocalCluster, type LocalNode, startLocalCluster } from "../../scripts/lib/local-cluster.js";
import { brokerLogs, Clients, Inbox, probeUntil, runId, until } from "./support.js";

/**
 * Adoption (decision 017) with real processes: persistent sessions left offline in node-3's custody; node-3 is
 * SIGKILLed; messages published while it is dead wait in its queue; once its record expires the survivors adopt
 * its sessions (their routes first), node-1 drops node-3's routes and routes what its queue held to the adopted
 * sessions; later messages go straight to the adopters. Every client then reconnects to node-2 and gets all of
 * them, in order.
 */

const DEVICES = 12;
const DURING = 5; // published while node-3 is dead
const AFTER = 5; // published once it was cleaned up
const run = runId();

let cluster: LocalCluster;
let node1: LocalNode;
let node2: LocalNode;
let node3: LocalNode;
const clients = new Clients();

beforeAll(async () => {
  cluster = await startLocalCluster({ nodes: 3 });
  [node1, node2, node3] = cluster.nodes as [LocalNode, LocalNode, LocalNode];
}, 90_000);

afterAll(async () => {
  await clients.endAll();
  await cluster?.stop();
}, 60_000);

describe("cluster of three broker processes: adoption of a SIGKILLed node's offline sessions", () => {
  it(
    "the offline sessions of the dead node keep receiving: what waited in its queue and what came after, in order",
    async () => {
      const ids = Array.from({ length: DEVICES }, (_, i) => `adopt-${run}-${i}`);
      const own = (id: string) => `adopt-${run}/dev/${id}`;
      const shared = `adopt-${run}/all`;
      for (const id of ids) {
        const c = await clients.connect(node3, id, { clean: false });
        await c.subscribeAsync({ [own(id)]: { qos: 1 }, [shared]: { qos: 1 } });
        await c.endAsync();
      }
      // A connected canary subscribed after the devices: once node-1 routes to it, it routes to them (one log).
      const canary = await clients.connect(node3, `adopt-canary-${run}`);
      const canaryInbox = new Inbox(canary);
      await canary.subscribeAsync(`${shared}-canary`, { qos: 0 });
      const pub = await clients.connect(node1, `adopt-pub-${run}`);
      await probeUntil("node-3's routes on node-1", () => pub.publishAsync(`${shared}-canary`, "p", { qos: 0 }).then(() => undefined), () => canaryInbox.all.length > 0);

      node3.child.kill("SIGKILL");
      await node3.exited;
      for (let i = 0; i < DURING; i++) {
        await pub.publishAsync(shared, `d${i}`, { qos: 1 });
        for (const id of ids) await pub.publishAsync(own(id), `d${i}`, { qos: 1 });
      }
      const sqs = cluster.sqs.client();
      try {
        const name = nodeQueueName(cluster.queuePrefix, node3.nodeId);
        const queues = async () => (await sqs.send(new ListQueuesCommand({ QueueNamePrefix: name }))).QueueUrls ?? [];
        await until(`${name} drained and deleted`, async () => (await queues()).length === 0, 75_000, () => brokerLogs(cluster));
      } finally {
        sqs.destroy();
      }
      for (let i = 0; i < AFTER; i++) {
        await pub.publishAsync(shared, `a${i}`, { qos: 1 });
        for (const id of ids) await pub.publishAsync(own(id), `a${i}`, { qos: 1 });
      }

      const expected: string[] = [];
      for (let i = 0; i < DURING; i++) expected.push(`d${i}`, `d${i}`);
      for (let i = 0; i < AFTER; i++) expected.push(`a${i}`, `a${i}`);
      for (const id of ids) {
        const c = mqtt.connect({ host: "127.0.0.1", port: node2.mqttPort, clientId: id, clean: false, reconnectPeriod: 0 });
        const inbox = new Inbox(c);
        try {
          await until(`${id}: ${expected.length} messages`, () => inbox.all.length >= expected.length, 20_000, () => `${inbox.tail()}\n${brokerLogs(cluster)}`);
          expect(inbox.all.map((m) => m.payload), id).toEqual(expected);
        } finally {
          await c.endAsync(true);
        }
      }
    },
    120_000,
  );
});
