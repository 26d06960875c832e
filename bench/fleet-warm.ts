/**
 * The fleet scenario's warm-up of the message path (decision 061): before the idle baseline is read, a few warm-up
 * devices send QoS 1 messages through the broker the way the fleet's devices will (one packet per write, each
 * acknowledged by itself, to a backend on a `+` filter), then disconnect. What a broker pays once, whatever the
 * number of devices (a Node.js broker pages in V8's optimizing compiler from the node binary when its hot path is
 * first compiled, about 5 MiB), is then in the baseline, as the connection path's warm-up already was; RSS per
 * device counts what one more device costs. The reading before this warm-up is kept as the cold baseline.
 */
import { BenchClient, type ClientOptions } from "./client.js";
import { closeAll } from "./measure.js";
import { PublishTemplate } from "./wire.js";

/** Warm-up devices and the QoS 1 messages each sends, one at a time: 8,000 messages, well past V8's tiering. */
export const WARM_DEVICES = 20;
export const WARM_MESSAGES_PER_DEVICE = 400;
/** The warm-up gives up (and the measurement fails) when it has not finished in this long. */
const WARM_TIMEOUT_MS = 60_000;

/**
 * Runs the warm-up: WARM_DEVICES devices each publish WARM_MESSAGES_PER_DEVICE QoS 1 messages to
 * `fleet-warm/<i>/up`, the next once the broker has acknowledged the last; one backend on `fleet-warm/+/up` receives
 * and acknowledges them. Resolves once every message was acknowledged and delivered, and every warm-up client has
 * disconnected; rejects with what went wrong otherwise. `payloadSize` is the fleet's.
 */
export async function warmMessagePath(base: Omit<ClientOptions, "clientId" | "clean" | "keepalive">, keepalive: number, payloadSize: number): Promise<void> {
  const clients: BenchClient[] = [];
  try {
    const backend = await BenchClient.open({ ...base, keepalive: 0, clientId: "fleet-warm-backend", clean: true });
    clients.push(backend);
    const granted = await backend.subscribe("fleet-warm/+/up", 1);
    if (granted !== 1) throw new Error(`warm-up backend: granted QoS ${granted}, asked 1`);
    const devices: BenchClient[] = [];
    for (let i = 0; i < WARM_DEVICES; i++) {
      const c = await BenchClient.open({ ...base, keepalive, clientId: `fleet-warm-${i}`, clean: true }).catch((err: Error) => {
        throw new Error(`warm-up device ${i}: ${err.message}`);
      });
      clients.push(c);
      devices.push(c);
      const g = await c.subscribe(`fleet-warm/${i}/cmd`, 1);
      if (g !== 1) throw new Error(`warm-up device ${i}: granted QoS ${g} on its command topic, asked 1`);
    }
    const total = WARM_DEVICES * WARM_MESSAGES_PER_DEVICE;
    const state = { delivered: 0, acknowledged: 0, failure: null as Error | null };
    let finish: () => void = () => {};
    const done = new Promise<void>((resolve) => (finish = resolve));
    const check = () => {
      if (state.failure !== null || (state.delivered >= total && state.acknowledged >= total)) finish();
    };
    backend.onMessage = () => {
      state.delivered++;
      check();
    };
    for (const c of clients) {
      c.onClose = (err) => {
        if (err !== null) state.failure ??= err;
        check();
      };
    }
    devices.forEach((c, d) => {
      const tpl = new PublishTemplate(`fleet-warm/${d}/up`, 1, payloadSize, base.protocol);
      let seq = 0;
      const send = () => {
        const buf = Buffer.allocUnsafe(tpl.size);
        tpl.write(buf, 0, (seq % 65_535) + 1, d, seq, performance.now());
        seq++;
        c.write(buf);
      };
      c.onComplete = () => {
        state.acknowledged++;
        if (seq < WARM_MESSAGES_PER_DEVICE) send();
        check();
      };
      send();
    });
    const timer = setTimeout(() => {
      state.failure ??= new Error(`timed out after ${WARM_TIMEOUT_MS} ms (${state.acknowledged} acknowledged, ${state.delivered} delivered of ${total})`);
      finish();
    }, WARM_TIMEOUT_MS);
    await done;
    clearTimeout(timer);
    if (state.failure !== null) throw new Error(`warm-up: ${state.failure.message}`);
    if (state.delivered !== total) throw new Error(`warm-up: ${state.delivered} of ${total} messages delivered`);
  } finally {
    await closeAll(clients);
  }
}
