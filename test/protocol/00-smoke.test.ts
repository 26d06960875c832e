import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { useBroker } from "../helpers/fixture.js";

describe("smoke: mqtt client pub/sub through the broker", () => {
  const f = useBroker();

  for (const qos of [0, 1, 2] as const) {
    it(`delivers QoS ${qos} in order`, async () => {
      const url = `mqtt://127.0.0.1:${f.b.mqttPort}`;
      const sub = await mqtt.connectAsync(url, { clientId: `sub-${qos}`, reconnectPeriod: 0 });
      const pub = await mqtt.connectAsync(url, { clientId: `pub-${qos}`, reconnectPeriod: 0 });
      await sub.subscribeAsync(`smoke/${qos}/#`, { qos });
      const got: string[] = [];
      const done = new Promise<void>((resolve) => {
        sub.on("message", (topic, payload, packet) => {
          expect(packet.qos).toBe(qos);
          got.push(payload.toString());
          if (got.length === 100) resolve();
        });
      });
      for (let i = 0; i < 100; i++) void pub.publishAsync(`smoke/${qos}/t`, String(i), { qos });
      await done;
      expect(got).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
      await sub.endAsync();
      await pub.endAsync();
    });
  }
});
