import type { IPublishPacket } from "mqtt-packet";
import { createAllowAll } from "../../core/auth/index.js";
import type { Auth } from "../../core/auth/types.js";
import type { RawClient } from "../helpers/raw-client.js";

/**
 * Reads every PUBLISH `c` gets into `got`, acknowledging QoS 1 and completing QoS 2 (unless `ack` is false: the
 * client then holds them unacknowledged). `stop()` ends the reading.
 */
export function collect(c: RawClient, ack = true, got: IPublishPacket[] = []): { got: IPublishPacket[]; stop(): void } {
  let stopped = false;
  void (async () => {
    while (!stopped && !c.closed) {
      const p = await c.next(60_000).catch(() => null);
      if (p === null) return;
      if (p.cmd === "publish") {
        got.push(p);
        if (ack && p.qos === 1) c.send({ cmd: "puback", messageId: p.messageId as number });
        if (ack && p.qos === 2) c.send({ cmd: "pubrec", messageId: p.messageId as number });
      } else if (p.cmd === "pubrel") c.send({ cmd: "pubcomp", messageId: p.messageId });
    }
  })();
  return { got, stop: () => (stopped = true) };
}

/** Allow-all, except publishing to topics and subscribing to filters that start with the prefixes given. */
export function restrictedAuth(deny: { publish?: string; subscribe?: string }): Auth {
  const allowAll = createAllowAll();
  return {
    name: "restricted",
    async connect(client, password) {
      const decision = await allowAll.connect(client, password);
      if (!decision.ok) return decision;
      const base = decision.policy;
      const refused = (s: string, prefix: string | undefined): boolean => prefix !== undefined && s.startsWith(prefix);
      return {
        ...decision,
        policy: {
          canPublish: (topic) => !refused(topic, deny.publish) && base.canPublish(topic),
          canSubscribe: (filter, qos) => (refused(filter, deny.subscribe) ? null : base.canSubscribe(filter, qos)),
        },
      };
    },
  };
}
