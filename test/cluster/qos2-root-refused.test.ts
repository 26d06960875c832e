import { describe, expect, it } from "vitest";
import type { TestBroker } from "../helpers/broker.js";
import { useInProcessCluster } from "./in-process-support.js";

/**
 * A persistent session's QoS 2 publish in a cluster is handled twice (decision 023, S13): before its root record,
 * and again once the record was applied. Refused on the second pass (MQTT 5: the events buffer filled meanwhile,
 * PUBREC 0x97), the exchange ends there: no packet id is kept, neither here nor in the store.
 */

const { cluster, connect } = useInProcessCluster();

describe("QoS 2: refused after its root record was applied", () => {
  it("MQTT 5, PUBREC 0x97 on the second pass: the root record is taken back", async () => {
    const { nodes, store } = await cluster(2);
    const [n1] = nodes as [TestBroker, TestBroker];
    const pub = await connect(n1, "pub5", { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 600 } });
    const broker = n1.broker;
    const publisher = broker.publisher;
    const admits = publisher.admits.bind(publisher);
    let calls = 0;
    // Room for the event when the PUBLISH is first read; none once its root record came back.
    publisher.admits = (conn, topic, bytes) => (++calls === 1 ? admits(conn, topic, bytes) : false);
    const codes: number[] = [];
    let id = 0;
    pub.on("packetreceive", (p) => {
      if (p.cmd !== "pubrec") return;
      codes.push(p.reasonCode ?? 0);
      id = p.messageId ?? 0;
    });
    await pub.publishAsync("q/1", "x", { qos: 2 }).catch(() => undefined);
    await broker.journal.barrier();
    expect(codes).toEqual([0x97]);
    const session = broker.sessions.get("pub5");
    expect(session?.inboundRoot(id)).toBeUndefined();
    const stored = await store.getSession("pub5");
    expect(stored?.inboundQos2 ?? []).toEqual([]);
  });
});
