import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import type { MemoryStore } from "../../core/store/memory.js";
import { until } from "../helpers/wait.js";
import { useInProcessCluster } from "./in-process-support.js";

/**
 * A claim whose store reply is lost (finding S12, decision 034): the claim took effect, so the node that claimed
 * must still learn which node served the client before and take it over from there.
 */

const inProcess = useInProcessCluster();

/** The store applies the next `n` claims but their replies are lost (the caller sees an error). */
function loseClaimReplies(store: MemoryStore, n: number): { lost(): number } {
  const claim = store.claimSession.bind(store);
  let lost = 0;
  store.claimSession = async (...args) => {
    const result = await claim(...args);
    if (lost < n) {
      lost++;
      throw new Error("store reply lost (test)");
    }
    return result;
  };
  return { lost: () => lost };
}

function closeOf(c: mqtt.MqttClient): Promise<void> {
  return new Promise<void>((resolve) => c.once("close", () => resolve()));
}

describe("a claim whose store reply is lost", () => {
  it("is repeated: the take-over goes on, the old connection is closed, the session resumes and gets new messages", async () => {
    const { nodes, store } = await inProcess.cluster(2);
    const old = await inProcess.connect(nodes[0]!, "dev", { clean: false });
    await old.subscribeAsync("t/#", { qos: 1 });
    const oldClosed = closeOf(old);
    const lost = loseClaimReplies(store, 1);
    const fresh = await inProcess.connect(nodes[1]!, "dev", { clean: false });
    expect(lost.lost()).toBe(1);
    expect(fresh.connected).toBe(true);
    await oldClosed;
    const got: string[] = [];
    fresh.on("message", (_topic, payload) => got.push(payload.toString()));
    await until(() => !nodes[0]!.broker.sessions.has("dev"), "node-1 to drop its copy of the session");
    const pub = await inProcess.connect(nodes[0]!, "pub");
    await pub.publishAsync("t/1", "after", { qos: 1 });
    await until(() => got.length === 1, "the message on the new connection");
    expect(got).toEqual(["after"]);
    expect((await store.getSession("dev"))?.node).toBe("node-2");
  });

  it("when every repeat is lost the CONNECT is refused, and the client's next CONNECT there still takes over from the old holder", async () => {
    const { nodes, store } = await inProcess.cluster(2);
    const old = await inProcess.connect(nodes[0]!, "dev", { clean: false });
    await old.subscribeAsync("t/#", { qos: 1 });
    const oldClosed = closeOf(old);
    const lost = loseClaimReplies(store, 4);
    const refused = await mqtt.connectAsync({ host: "127.0.0.1", port: nodes[1]!.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 }).then(
      (c) => {
        inProcess.clients.push(c);
        return null;
      },
      (err: unknown) => err as { code?: number },
    );
    expect(lost.lost()).toBe(4);
    expect(refused?.code).toBe(3);
    // The claim took effect: the store names node-2, which serves nothing yet; node-1 still serves the client.
    expect((await store.getSession("dev"))?.node).toBe("node-2");
    expect(old.connected).toBe(true);
    const fresh = await inProcess.connect(nodes[1]!, "dev", { clean: false });
    expect(fresh.connected).toBe(true);
    // Answered as the first claim: node-1 is told to let the client go.
    await oldClosed;
    await until(() => !nodes[0]!.broker.sessions.has("dev"), "node-1 to drop its copy of the session");
    const got: string[] = [];
    fresh.on("message", (_topic, payload) => got.push(payload.toString()));
    const pub = await inProcess.connect(nodes[0]!, "pub");
    await pub.publishAsync("t/1", "after", { qos: 1 });
    await until(() => got.length === 1, "the message on the new connection");
    expect(got).toEqual(["after"]);
  });
});
