import { describe, expect, it } from "vitest";
import type { MemoryCommunicator } from "../../core/communicator/index.js";
import type { TestBroker } from "../helpers/broker.js";
import { routesTo, until } from "../helpers/wait.js";
import { useInProcessCluster } from "./in-process-support.js";

/**
 * A node that cannot reach SQS for a while (a partition, an SQS outage; decision 032): its forwards are retried
 * until SQS takes them, and its publishers are acknowledged only then. A `match` forward names no session (the
 * receiving node matches its own trie), so the sender cannot put it in the store instead: dropping it after the
 * SQS client's own few retries lost an acknowledged message (simulation, `--faults partitions`, seed 1).
 */
const { cluster, connect } = useInProcessCluster();

describe("a forward SQS refuses for a while", () => {
  it("is sent again until SQS takes it, and PUBACK follows; the subscriber on the other node gets the message", async () => {
    const { nodes, members } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const remote = await connect(n2, "remote", { clean: false });
    const got: string[] = [];
    remote.on("message", (_t, payload) => got.push(payload.toString()));
    await remote.subscribeAsync("q/#", { qos: 1 });
    await until(() => routesTo(n1, "q/1", "node-2"), "node-1 to route to node-2");
    const comm = members[0]?.comm as MemoryCommunicator;
    const send = comm.send.bind(comm);
    let refused = 0;
    comm.send = async (node, messages) => {
      if (messages.some((m) => m.type === "deliver") && refused < 3) {
        refused++;
        throw Object.assign(new Error("ServiceUnavailable (test)"), { name: "ServiceUnavailable" });
      }
      return send(node, messages);
    };
    const pub = await connect(n1, "pub", { clean: false });
    await pub.publishAsync("q/1", "through", { qos: 1 });
    // PUBACK came after the third refusal: the forward was sent again, not dropped.
    expect(refused).toBe(3);
    await until(() => got.length === 1, "the message at node-2");
    expect(got).toEqual(["through"]);
  });

  it("a batch of QoS 0 forwards is not held through an outage (at most once): after 3 tries it is dropped, and later QoS 0 publishes go on", async () => {
    const { nodes, members } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const remote = await connect(n2, "remote0", { clean: true });
    const got: string[] = [];
    remote.on("message", (_t, payload) => got.push(payload.toString()));
    await remote.subscribeAsync("z/#", { qos: 0 });
    await until(() => routesTo(n1, "z/1", "node-2"), "node-1 to route to node-2");
    const comm = members[0]?.comm as MemoryCommunicator;
    const send = comm.send.bind(comm);
    let tries = 0;
    let down = true;
    comm.send = async (node, messages) => {
      if (down && messages.some((m) => m.type === "deliver")) {
        tries++;
        throw Object.assign(new Error("ServiceUnavailable (test)"), { name: "ServiceUnavailable" });
      }
      return send(node, messages);
    };
    const pub = await connect(n1, "pub0", { clean: true });
    await pub.publishAsync("z/1", "lost", { qos: 0 });
    await until(() => tries === 3, "three tries");
    // No fourth try: the batch was given up (its backoff would have tried again within 200 ms).
    await new Promise((r) => setTimeout(r, 500));
    expect(tries).toBe(3);
    down = false;
    await pub.publishAsync("z/1", "after", { qos: 0 });
    await until(() => got.includes("after"), "the QoS 0 message published after the outage");
    expect(got).toEqual(["after"]);
  });
});
