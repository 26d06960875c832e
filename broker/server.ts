import type { Auth } from "../core/auth/types.js";
import type { MqgateConfig } from "../core/config/types.js";
import { Broker } from "./broker.js";
import { type Listener, startListeners } from "./listeners.js";
import { SysPublisher } from "./sys.js";

export interface RunningBroker {
  readonly broker: Broker;
  readonly listeners: readonly Listener[];
  /** Port of the first listener of a transport, for tests and printing. */
  port(transport: Listener["transport"]): number;
  /** Stops accepting, closes every client connection (wills are published) and the listeners. */
  close(): Promise<void>;
}

/** Builds a broker from configuration and starts its listeners and $SYS publisher. */
export async function startBroker(config: MqgateConfig, auth: Auth): Promise<RunningBroker> {
  const broker = new Broker(config, auth);
  const listeners = await startListeners(broker, config);
  const sys = new SysPublisher(broker, config.sysIntervalSeconds);
  sys.start();
  let closed: Promise<void> | null = null;
  return {
    broker,
    listeners,
    port(transport) {
      const listener = listeners.find((l) => l.transport === transport);
      if (listener === undefined) throw new Error(`no ${transport} listener`);
      return listener.port;
    },
    close() {
      closed ??= (async () => {
        sys.stop();
        const stopping = Promise.all(listeners.map((l) => l.close()));
        broker.closeAll("server-shutdown");
        await stopping;
      })();
      return closed;
    },
  };
}
