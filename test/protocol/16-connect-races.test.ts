import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../core/store/memory.js";
import type { Store } from "../../core/store/types.js";
import { useBroker } from "../helpers/fixture.js";

/**
 * Two CONNECTs for one client id whose session claims overlap in the store. The store is a real MemoryStore whose
 * claims answer 100 ms late (a slow Redis), so the second CONNECT arrives while the first is still claiming.
 */
function slowClaims(store: Store, delayMs: number): Store {
  const claim = store.claimSession.bind(store);
  store.claimSession = async (clientId, opts) => {
    await new Promise((r) => setTimeout(r, delayMs));
    return claim(clientId, opts);
  };
  return store;
}

describe("overlapping CONNECTs for one client id", () => {
  const f = useBroker({}, undefined, slowClaims(new MemoryStore(), 100));

  for (const clean of [true, false]) {
    it(`[MQTT-3.1.4-2] clean=${clean}: the newer CONNECT wins, the older is closed, one connection remains`, async () => {
      const clientId = `race-${clean}`;
      const first = await f.open();
      first.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean, keepalive: 0, clientId });
      await new Promise((r) => setTimeout(r, 20));
      const [second, connack] = await f.connect({ clientId, clean });
      expect(connack.returnCode).toBe(0);
      await first.waitClosed();
      // The older CONNECT never got a CONNACK 0 for a session it does not own.
      expect(first.buffered.filter((p) => p.cmd === "connack" && p.returnCode === 0)).toEqual([]);
      const session = f.b.broker.sessions.get(clientId);
      expect(session?.link).not.toBeNull();
      expect([...f.b.broker.connections].filter((c) => c.clientId === clientId && !c.isClosed)).toHaveLength(1);
      // The survivor works: it subscribes and receives.
      expect(await second.subscribe(`race/${clean}`, 1)).toEqual([1]);
      const pub = await f.raw();
      pub.send({ cmd: "publish", topic: `race/${clean}`, payload: Buffer.from("x"), qos: 0, retain: false, dup: false });
      expect((await second.expect("publish")).payload.toString()).toBe("x");
    });
  }
});
