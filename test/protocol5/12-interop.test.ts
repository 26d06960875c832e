import type { IPublishPacket } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { RawClient } from "../helpers/raw-client.js";
import { STORES, useBroker5 } from "./stores.js";

/**
 * The interop matrix: a publisher and a subscriber at 3.1.1 or MQTT 5, every pairing, through each path a message
 * takes (live, retained, will, offline queue). An MQTT 5 receiver of an MQTT 5 message gets its properties; any
 * other pairing delivers the message without them.
 */
const LEVELS = [4, 5] as const;
const PATHS = ["live", "retained", "will", "offline queue"] as const;
const PROPS = { contentType: "text/plain", userProperties: { k: "v" } };

for (const kind of STORES) {
  describe(`interop on the ${kind} store`, () => {
    const f = useBroker5(kind, { limits: { sessionExpirySeconds: 3600 } });
    let n = 0;

    async function client(level: 4 | 5, clientId: string, fields: Record<string, unknown> = {}): Promise<RawClient> {
      const c = f.track(await RawClient.open(f.b.mqttPort, "127.0.0.1", undefined, level));
      const connack = await c.connect({ clientId, ...fields });
      if ((connack.reasonCode ?? connack.returnCode) !== 0) throw new Error(`refused: ${JSON.stringify(connack)}`);
      return c;
    }

    const persistent = (level: 4 | 5): Record<string, unknown> => (level === 5 ? { clean: false, properties: { sessionExpiryInterval: 600 } } : { clean: false });

    for (const from of LEVELS) {
      for (const to of LEVELS) {
        for (const path of PATHS) {
          it(`${from === 4 ? "3.1.1" : "5"} publisher → ${to === 4 ? "3.1.1" : "5"} subscriber, ${path}`, async () => {
            const id = `ix${++n}`;
            const topic = `ix/${id}`;
            const props = from === 5 ? { properties: PROPS } : {};
            let got: IPublishPacket;
            if (path === "live") {
              const sub = await client(to, `${id}-s`);
              await sub.subscribe(topic, 1);
              const pub = await client(from, `${id}-p`);
              pub.send({ cmd: "publish", topic, payload: Buffer.from("m"), qos: 1, retain: false, dup: false, messageId: 1, ...props });
              got = (await sub.expect("publish")) as IPublishPacket;
            } else if (path === "retained") {
              const pub = await client(from, `${id}-p`);
              pub.send({ cmd: "publish", topic, payload: Buffer.from("m"), qos: 1, retain: true, dup: false, messageId: 1, ...props });
              await pub.expect("puback");
              const sub = await client(to, `${id}-s`);
              await sub.subscribe(topic, 1);
              got = (await sub.expect("publish")) as IPublishPacket;
              expect(got.retain).toBe(true);
            } else if (path === "will") {
              const sub = await client(to, `${id}-s`);
              await sub.subscribe(topic, 1);
              const dev = await client(from, `${id}-p`, { will: { topic, payload: Buffer.from("m"), qos: 1, retain: false, ...props } });
              dev.destroy();
              got = (await sub.expect("publish")) as IPublishPacket;
            } else {
              const first = await client(to, `${id}-s`, persistent(to));
              await first.subscribe(topic, 1);
              first.destroy();
              await first.waitClosed();
              const pub = await client(from, `${id}-p`);
              pub.send({ cmd: "publish", topic, payload: Buffer.from("m"), qos: 1, retain: false, dup: false, messageId: 1, ...props });
              await pub.expect("puback");
              const back = await client(to, `${id}-s`, persistent(to));
              got = (await back.expect("publish")) as IPublishPacket;
            }
            expect([got.topic, got.payload.toString()]).toEqual([topic, "m"]);
            if (from === 5 && to === 5) expect(got.properties).toMatchObject({ contentType: "text/plain", userProperties: { k: "v" } });
            else expect(got.properties?.contentType).toBeUndefined();
          });
        }
      }
    }
  });
}
