import mqtt from "mqtt";
import type { IPublishPacket } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { useInProcessCluster } from "../cluster/in-process-support.js";
import { routesTo, until } from "../helpers/wait.js";

/**
 * A mixed fleet across two nodes of one cluster: 3.1.1 and MQTT 5 clients on both, wills, retained messages and
 * offline queues, with MQTT 5 properties crossing nodes (forwards, the store, the will store).
 */
const ipc = useInProcessCluster();

function nextMessage(c: mqtt.MqttClient, topic?: string): Promise<IPublishPacket> {
  return new Promise((resolve) => {
    const on = (t: string, _p: Buffer, pkt: IPublishPacket): void => {
      if (topic !== undefined && t !== topic) return;
      c.off("message", on);
      resolve(pkt);
    };
    c.on("message", on);
  });
}

const PROPS = { contentType: "application/json", responseTopic: "reply/to", correlationData: Buffer.from([1, 2, 3]), userProperties: { site: "north", rack: "7" } };

describe("a mixed 3.1.1 / MQTT 5 fleet on two nodes", () => {
  it("properties cross nodes to MQTT 5 subscribers; 3.1.1 subscribers get the message without them", async () => {
    const { nodes } = await ipc.cluster(2);
    const [n1, n2] = nodes as [NonNullable<(typeof nodes)[0]>, NonNullable<(typeof nodes)[0]>];
    const sub5 = await ipc.connect(n1, "mf-sub5", { protocolVersion: 5 });
    await sub5.subscribeAsync("fleet/#", { qos: 1 });
    const sub4 = await ipc.connect(n1, "mf-sub4");
    await sub4.subscribeAsync("fleet/#", { qos: 1 });
    await until(() => routesTo(n2, "fleet/x", "node-1"), "node-2 routes fleet/# to node-1");
    const pub5 = await ipc.connect(n2, "mf-pub5", { protocolVersion: 5 });
    const at5 = nextMessage(sub5);
    const at4 = nextMessage(sub4);
    await pub5.publishAsync("fleet/a", "{}", { qos: 1, properties: { ...PROPS, messageExpiryInterval: 300 } });
    const got5 = await at5;
    expect(got5.properties).toMatchObject(PROPS);
    expect(got5.properties?.messageExpiryInterval).toBeGreaterThanOrEqual(299);
    const got4 = await at4;
    expect(got4.topic).toBe("fleet/a");
    expect(got4.properties).toBeUndefined();
  });

  it("retained messages keep their properties across nodes; a 3.1.1 subscriber gets the retained message without them", async () => {
    const { nodes } = await ipc.cluster(2);
    const [n1, n2] = nodes as [NonNullable<(typeof nodes)[0]>, NonNullable<(typeof nodes)[0]>];
    const pub5 = await ipc.connect(n2, "mf-rpub", { protocolVersion: 5 });
    await pub5.publishAsync("state/dev1", "on", { qos: 1, retain: true, properties: PROPS });
    const sub5 = await ipc.connect(n1, "mf-rsub5", { protocolVersion: 5 });
    const at5 = nextMessage(sub5);
    await sub5.subscribeAsync("state/+", { qos: 1 });
    const got5 = await at5;
    expect([got5.retain, got5.payload.toString()]).toEqual([true, "on"]);
    expect(got5.properties).toMatchObject(PROPS);
    const sub4 = await ipc.connect(n1, "mf-rsub4");
    const at4 = nextMessage(sub4);
    await sub4.subscribeAsync("state/+", { qos: 1 });
    const got4 = await at4;
    expect([got4.retain, got4.properties]).toEqual([true, undefined]);
  });

  it("an MQTT 5 will with properties reaches subscribers on the other node; a 3.1.1 will reaches MQTT 5 subscribers", async () => {
    const { nodes } = await ipc.cluster(2);
    const [n1, n2] = nodes as [NonNullable<(typeof nodes)[0]>, NonNullable<(typeof nodes)[0]>];
    const watch = await ipc.connect(n1, "mf-watch", { protocolVersion: 5 });
    await watch.subscribeAsync("lwt/#", { qos: 1 });
    await until(() => routesTo(n2, "lwt/x", "node-1"), "node-2 routes lwt/# to node-1");
    const dev5 = await ipc.connect(n2, "mf-dev5", { protocolVersion: 5, will: { topic: "lwt/dev5", payload: Buffer.from("offline"), qos: 1, retain: false, properties: { contentType: "text/plain", userProperties: { why: "lost" } } } });
    const dev4 = await ipc.connect(n2, "mf-dev4", { will: { topic: "lwt/dev4", payload: Buffer.from("offline"), qos: 1, retain: false } });
    const first = nextMessage(watch, "lwt/dev5");
    (dev5 as unknown as { stream: { destroy(): void } }).stream.destroy();
    const w5 = await first;
    expect(w5.properties).toMatchObject({ contentType: "text/plain", userProperties: { why: "lost" } });
    const second = nextMessage(watch, "lwt/dev4");
    (dev4 as unknown as { stream: { destroy(): void } }).stream.destroy();
    const w4 = await second;
    expect(w4.payload.toString()).toBe("offline");
    expect(w4.properties ?? {}).toEqual({});
  });

  it("an offline MQTT 5 session's queue keeps properties and subscription identifiers, and it resumes on the other node", async () => {
    const { nodes } = await ipc.cluster(2);
    const [n1, n2] = nodes as [NonNullable<(typeof nodes)[0]>, NonNullable<(typeof nodes)[0]>];
    const opts = { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 600 } };
    const dev = await ipc.connect(n1, "mf-off", opts);
    await dev.subscribeAsync("cmd/mf-off", { qos: 1, properties: { subscriptionIdentifier: 12 } });
    await dev.endAsync();
    await until(() => routesTo(n2, "cmd/mf-off", "node-1"), "node-2 routes cmd/mf-off to node-1");
    const pub4 = await ipc.connect(n2, "mf-pub4");
    await pub4.publishAsync("cmd/mf-off", "from 3.1.1", { qos: 1 });
    const pub5 = await ipc.connect(n2, "mf-pub5b", { protocolVersion: 5 });
    await pub5.publishAsync("cmd/mf-off", "from 5", { qos: 1, properties: PROPS });
    const received: IPublishPacket[] = [];
    // Listening before CONNACK: the queue is sent right after it.
    const back = mqtt.connect({ host: "127.0.0.1", port: n2.mqttPort, clientId: "mf-off", reconnectPeriod: 0, ...opts });
    ipc.clients.push(back);
    back.on("message", (_t, _p, pkt) => received.push(pkt));
    await until(() => received.length === 2, "both queued messages");
    expect(received.map((p) => p.payload.toString())).toEqual(["from 3.1.1", "from 5"]);
    expect(received.map((p) => p.properties?.subscriptionIdentifier)).toEqual([12, 12]);
    expect(received[0]?.properties?.contentType).toBeUndefined();
    expect(received[1]?.properties).toMatchObject(PROPS);
  });
});
