import { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HandleStream } from "../../broker/handle-stream.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";
import { until } from "../helpers/wait.js";

// Decision 053's fallback: on a Node without what a HandleStream needs, plain TCP connections are net.Sockets again,
// still reading into the shared buffer (decision 039) and writing straight to the handle (decision 035). The
// protocol suites run on handles; this file runs the paths that differ over sockets (`tcpSockets`).

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function socketBroker(): Promise<TestBroker> {
  const b = await startTestBroker({}, undefined, undefined, { tcpSockets: true });
  cleanups.push(() => b.close());
  return b;
}

async function client(b: TestBroker, clientId: string): Promise<RawClient> {
  const c = await RawClient.connected(b.mqttPort, { clientId });
  cleanups.push(() => void c.socket.destroy());
  return c;
}

describe("plain TCP over net.Socket (the fallback)", () => {
  it("connections are sockets; QoS 1 and 2 go end to end, acknowledged", async () => {
    const b = await socketBroker();
    const sub = await client(b, "fb-sub");
    const pub = await client(b, "fb-pub");
    for (const conn of b.broker.connections) {
      expect(conn.stream).toBeInstanceOf(Socket);
      expect(conn.stream).not.toBeInstanceOf(HandleStream);
    }
    await sub.subscribe("fb/#", 2);
    pub.send({ cmd: "publish", topic: "fb/1", payload: Buffer.from("one"), qos: 1, messageId: 1, retain: false, dup: false });
    expect((await pub.expect("puback")).messageId).toBe(1);
    const one = await sub.expect("publish");
    expect([one.topic, one.payload.toString(), one.qos]).toEqual(["fb/1", "one", 1]);
    sub.send({ cmd: "puback", messageId: one.messageId as number });
    pub.send({ cmd: "publish", topic: "fb/2", payload: Buffer.from("two"), qos: 2, messageId: 2, retain: false, dup: false });
    expect((await pub.expect("pubrec")).messageId).toBe(2);
    pub.send({ cmd: "pubrel", messageId: 2 });
    expect((await pub.expect("pubcomp")).messageId).toBe(2);
    const two = await sub.expect("publish");
    expect([two.topic, two.payload.toString(), two.qos]).toEqual(["fb/2", "two", 2]);
  });

  it("a PUBLISH followed by the client's end is still routed, then the connection closes", async () => {
    const b = await socketBroker();
    const sub = await client(b, "fb-sub2");
    await sub.subscribe("fb/end", 1);
    const pub = await client(b, "fb-pub2");
    pub.send({ cmd: "publish", topic: "fb/end", payload: Buffer.from("last"), qos: 1, messageId: 7, retain: false, dup: false });
    pub.socket.end();
    const got = await sub.expect("publish");
    expect(got.payload.toString()).toBe("last");
    await until(() => b.broker.connections.size === 1, "the ended client's connection to close");
  });

  it("a subscriber that does not read is congested, and gets everything in order once it reads again", async () => {
    const b = await socketBroker();
    const slow = await client(b, "fb-slow");
    await slow.subscribe("fb/big", 1);
    const pub = await client(b, "fb-pub3");
    const slowConn = [...b.broker.connections].find((c) => c.clientId === "fb-slow");
    slow.socket.pause();
    // Up to limits.maxInflight (32) messages of 1 MB: more than the kernel's socket buffers and the broker's 1 MiB
    // high-water mark take before the client reads.
    const payload = Buffer.alloc(1_000_000, 1);
    let id = 1;
    while (slowConn?.congested !== true && id <= 32) {
      payload.writeUInt32BE(id, 0);
      pub.send({ cmd: "publish", topic: "fb/big", payload, qos: 1, messageId: id, retain: false, dup: false });
      await pub.expect("puback");
      id++;
    }
    expect(slowConn?.congested).toBe(true);
    const sent = id - 1;
    slow.socket.resume();
    for (let n = 1; n <= sent; n++) {
      const p = await slow.expect("publish", 5000);
      expect((p.payload as Buffer).readUInt32BE(0)).toBe(n);
      slow.send({ cmd: "puback", messageId: p.messageId as number });
    }
    await until(() => slowConn?.congested === false, "the subscriber to catch up");
  });
});
