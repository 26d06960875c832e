import { describe, expect, it } from "vitest";
import type { NodeMessage } from "../../core/communicator/index.js";
import { routesTo, until } from "../helpers/wait.js";
import { holdRoutes, payloads, slowGroup, useInProcessCluster, type Member } from "./in-process-support.js";

/**
 * CI-set seed 1100 of the simulation (decision 023, "After decision 048: seed 1100 traced"): a persistent subscriber kept
 * offline by node-1 (its custodian) reconnects on node-2. node-2 kicks node-1, which has nothing in flight for it and
 * replies `moved` at once; node-2's hold ends. Then a publisher on a third node, node-3, whose route table does not
 * show node-2's route yet, sends m1 to node-1 alone; node-1's forwarding copy passes it on to node-2, after its reply.
 * node-3 reads node-2's route and sends m2 straight to node-2, which delivers it before m1 arrives: [m2, m1].
 *
 * Decision 031's reply orders only what reached node-1 before the kick; m1 reached it after. Decision 047 orders
 * this shape: node-2 holds m2, which came straight from node-3, until node-1 has passed on node-3's messages up to it
 * (m1, then node-1's own copy of m2). The gate stores what it holds, as decision 048's settle hold does, so m2's
 * batch does not wait for the hold and node-1's pass-ons behind it in node-2's queue are read. Fails on the code
 * before 047 with [m2, m1].
 */
describe("a third node's message that reaches the old holder after the take-over kick (decision 047's shape, CI seed 1100)", () => {
  const { cluster, connect } = useInProcessCluster();

  it("a subscriber that moved gets a third node's m1, routed by a stale table to its old node, before m2 sent straight to it", async () => {
    const { members } = await cluster(3);
    const [o, n, x] = members as [Member, Member, Member];
    // The subscriber of t/x is kept offline by node-1; node-3 routes t/x to node-1.
    const oldSub = await connect(o.broker, "sub", { clean: false });
    await oldSub.subscribeAsync("t/x", { qos: 1 });
    await until(() => routesTo(x.broker, "t/x", "node-1"), "node-3 to learn node-1's route for t/x");
    const left = o.events.events.length;
    await oldSub.endAsync();
    await until(() => o.events.events.slice(left).some((e) => e.type === "client.disconnected" && e.clientId === "sub"), "node-1 to see sub leave");
    const pub = await connect(x.broker, "pub", { clean: true });

    // node-3's route table stays as it is: without node-2's route for t/x.
    const routes = holdRoutes(x.broker);
    const replies: NodeMessage[] = [];
    const send = o.comm.send.bind(o.comm);
    o.comm.send = async (node, messages) => {
      replies.push(...messages.filter((m) => m.type === "moved"));
      return send(node, messages);
    };

    // The subscriber reconnects on node-2, which kicks node-1 and holds its deliveries until node-1's reply.
    const sub = await connect(n.broker, "sub", { clean: false });
    const got = payloads(sub);
    await until(() => replies.length > 0, "node-1's reply to the take-over kick");
    await new Promise((resolve) => setTimeout(resolve, 50)); // node-2 reads it: its hold ends

    // m1: node-3 routes it to node-1 alone; node-1's forwarding copy passes it on to node-2, which is behind on
    // node-1's group (as SQS was in the seed: 40 ms for that send against 7 ms for node-3's).
    const slow = slowGroup(o.comm, "node-2");
    slow.close();
    await pub.publishAsync("t/x", "m1", { qos: 1 });
    await until(() => slow.waiting().some((m) => m.type === "deliver"), "node-1 to pass m1 on");

    // m2: node-3 now reads node-2's route and sends m2 straight there (and to node-1, which still routes t/x).
    await routes.open();
    await until(() => routesTo(x.broker, "t/x", "node-2"), "node-3 to learn node-2's route for t/x");
    await pub.publishAsync("t/x", "m2", { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await slow.open();

    await until(() => got.includes("m1") && got.includes("m2"), "m1 and m2 at the subscriber");
    expect(got.filter((p, i) => got.indexOf(p) === i)).toEqual(["m1", "m2"]);
  });
});
