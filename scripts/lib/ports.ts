import { createServer } from "node:net";

/** The standard ports of MQTT, Redis and our listeners: a developer's Mosquitto, Redis or app may want them. */
const RESERVED_PORTS = new Set([1883, 6379, 8080, 8083, 8883]);

/**
 * Ports this process already handed out. The OS may give a just-closed port 0 again at once, so two calls in a row
 * (a node's MQTT and HTTP ports, say) could otherwise return the same port: a collision seen in CI.
 */
const handedOut = new Set<number>();

/**
 * A loopback port the OS considers free right now (bind port 0, read it, close), never one of the standard ports
 * and never one this process already handed out. Another process may take it before the caller binds it: callers
 * that can, retry. Used by the tests, the local cluster and the benchmark.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => {
        if (port === 0 || RESERVED_PORTS.has(port) || handedOut.has(port)) {
          freePort().then(resolve, reject);
          return;
        }
        handedOut.add(port);
        resolve(port);
      });
    });
  });
}
