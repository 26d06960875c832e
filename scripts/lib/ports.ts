import { createServer } from "node:net";

/** The standard ports of MQTT, Redis and our listeners: a developer's Mosquitto, Redis or app may want them. */
const RESERVED_PORTS = new Set([1883, 6379, 8080, 8083, 8883]);

/**
 * A loopback port the OS considers free right now (bind port 0, read it, close), never one of the standard ports.
 * Another process may take it before the caller binds it: callers that can, retry. Used by the tests, the local
 * cluster and the benchmark.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => (port === 0 || RESERVED_PORTS.has(port) ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
}
