import { describe, expect, it } from "vitest";
import type { MemoryCommunicator, NodeMessage } from "../../core/communicator/index.js";
import type { TestBroker } from "../helpers/broker.js";
import { until } from "../helpers/wait.js";
import { useInProcessCluster } from "./in-process-support.js";

/**
 * Decision 036, partitions seed 177: a take-over kick travels in the claiming node's FIFO group at the old holder,
 * behind that node's forwards (decision 031). A survivor that drained the old holder's queue while it was judged
 * dead, and was cut off from SQS in the middle, kept a batch of that group in flight for 18 s; the kick waited
 * behind it, and the old holder served the client's old connection beside the new one. Here the claiming node's
 * ordered kicks to the old holder are held back the same way (they arrive only when the test lets them); the old
 * holder is alive and renews its lease (broker/silent-holders.ts).
 */

const { cluster, connect } = useInProcessCluster();

/** Holds `from`'s take-over kicks to `to` that travel in `from`'s ordering group, until `open()`. */
function holdOrderedKicks(from: MemoryCommunicator, to: string): { open(): Promise<void>; held(): number } {
  const send = from.send.bind(from);
  const held: NodeMessage[] = [];
  from.send = async (node, messages) => {
    const ordered = (m: NodeMessage): boolean => node === to && m.type === "kick" && m.node !== undefined && m.unordered !== true;
    held.push(...messages.filter(ordered));
    const rest = messages.filter((m) => !ordered(m));
    if (rest.length > 0) await send(node, rest);
  };
  return { open: () => send(to, held.splice(0)), held: () => held.length };
}

describe("a take-over kick held back in the claiming node's group at the old holder (decision 036, seed 177)", () => {
  it("the claiming node kicks the holder again, outside that group, once the wait for its reply ended and its lease was renewed since", async () => {
    const { nodes, members } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const old = await connect(n2, "dev", { clean: false });
    let closed = false;
    old.once("close", () => (closed = true));
    const hold = holdOrderedKicks(members[0]?.comm as MemoryCommunicator, "node-2");
    const next = await connect(n1, "dev", { clean: false });
    await until(() => hold.held() > 0, "node-1's take-over kick to node-2");
    // The settle wait's limit is 1 s (decision 031), the heartbeat 200 ms here; the old connection must not outlive
    // them by much.
    await until(() => closed, "node-2's old connection to be closed", 3000);
    expect(n2.broker.sessions.get("dev")?.link ?? null).toBeNull();
    // The held kick arrives at last: it closes nothing of the newer claim.
    await hold.open();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(next.connected).toBe(true);
    expect(n1.broker.sessions.get("dev")?.link ?? null).not.toBeNull();
  });
});
