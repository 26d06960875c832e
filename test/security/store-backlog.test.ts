import { generate, type Packet, type QoS } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../core/store/memory.js";
import type { StoreOp, StoreOpResult } from "../../core/store/types.js";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

/**
 * What one client can make the broker hold while the store is down (docs/security.md): the messages whose store
 * writes wait (retained messages here) are bounded per client in bytes, QoS 0 included. Beyond, the broker stops
 * reading from that client: its data waits in its own socket until the store is back.
 */

class OutageStore extends MemoryStore {
  down = false;
  override async apply(ops: StoreOp[]): Promise<StoreOpResult[]> {
    if (this.down) throw new Error("store unreachable (test outage)");
    return super.apply(ops);
  }
}

function retained(topic: string, payload: Buffer, qos: QoS, messageId?: number): Packet {
  return { cmd: "publish", topic, payload, qos, retain: true, dup: false, ...(qos > 0 ? { messageId } : {}) } as Packet;
}

async function pingAfter(c: RawClient, timeoutMs: number): Promise<Packet[]> {
  c.send({ cmd: "pingreq" });
  const before: Packet[] = [];
  for (;;) {
    const p = await c.next(timeoutMs);
    if (p.cmd === "pingresp") return before;
    before.push(p);
  }
}

describe("a client's messages waiting for the store are bounded in bytes", () => {
  const store = new OutageStore();
  const f = useBroker({}, undefined, store);
  const MiB = 1024 * 1024;

  for (const qos of [0, 1] as const) {
    it(`QoS ${qos} retained 100 KB x 300 during a store outage: the broker reads at most ~4 MiB of it, the rest waits in the client`, async () => {
      const c = await f.raw();
      store.down = true;
      const before = f.b.broker.stats.bytesReceived;
      for (let i = 1; i <= 300; i++) c.sendBytes(generate(retained(`backlog/q${qos}/${i % 10}`, Buffer.alloc(100_000, i), qos, i)));
      await new Promise((r) => setTimeout(r, 500));
      const read = f.b.broker.stats.bytesReceived - before;
      // 4 MiB of pending writes, the packet that crossed it, and what was already read.
      expect(read).toBeLessThan(4 * MiB + 512 * 1024);
      expect(c.socket.writableLength + read).toBeGreaterThan(30_000_000); // everything else is still in the client
      if (qos === 1) expect(c.buffered).toHaveLength(0); // no PUBACK while the store is down
      store.down = false;
      if (qos === 1) {
        // Every PUBACK, in order, once the store is back [MQTT-4.6.0-2].
        const acks: number[] = [];
        while (acks.length < 300) acks.push((await c.expect("puback", 15_000)).messageId ?? -1);
        expect(acks).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      }
      await pingAfter(c, 15_000);
      expect(f.b.broker.stats.bytesReceived - before).toBeGreaterThan(30_000_000);
    });
  }
});
