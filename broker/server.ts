import type { Auth } from "../core/auth/types.js";
import type { MqgateConfig } from "../core/config/types.js";
import { MemoryStore } from "../core/store/memory.js";
import type { Store } from "../core/store/types.js";
import { type LocalApi, startLocalApi } from "../functions/local.js";
import { Broker } from "./broker.js";
import { type Listener, startListeners } from "./listeners.js";
import { SysPublisher } from "./sys.js";

export interface RunningBroker {
  readonly broker: Broker;
  readonly listeners: readonly Listener[];
  /** The REST API served by this process (config.http), or null when its port is off. */
  readonly http: LocalApi | null;
  /** Port of the first listener of a transport, for tests and printing. */
  port(transport: Listener["transport"]): number;
  /** Stops accepting, closes every client connection (wills are published) and the listeners. */
  close(): Promise<void>;
}

/**
 * Builds a broker from configuration, loads what the store remembers, and starts its listeners and $SYS
 * publisher. The store defaults to a fresh in-memory one.
 */
export async function startBroker(config: MqgateConfig, auth: Auth, store: Store = new MemoryStore()): Promise<RunningBroker> {
  const broker = new Broker(config, auth, store);
  await broker.start();
  const listeners = await startListeners(broker, config);
  let http: LocalApi | null = null;
  try {
    if (config.http.port !== null) http = await startLocalApi(broker, config);
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }
  const sys = new SysPublisher(broker, config.sysIntervalSeconds);
  sys.start();
  let closed: Promise<void> | null = null;
  return {
    broker,
    listeners,
    http,
    port(transport) {
      const listener = listeners.find((l) => l.transport === transport);
      if (listener === undefined) throw new Error(`no ${transport} listener`);
      return listener.port;
    },
    close() {
      closed ??= (async () => {
        sys.stop();
        await http?.close();
        const stopping = Promise.all(listeners.map((l) => l.close()));
        await broker.closeAll("server-shutdown", config.shutdown.drainMs);
        await stopping;
      })();
      return closed;
    },
  };
}
