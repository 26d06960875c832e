import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { ListenerConfig } from "../core/config/types.js";
import { PortListenError } from "../core/listen-error.js";
import type { Broker } from "./broker.js";
import { Readiness, type ReadinessOptions } from "./health.js";
import type { BrokerMetrics } from "./metrics.js";

/** The metrics port could not be bound; names the setting to change. */
export class MetricsListenError extends PortListenError {
  override readonly name = "MetricsListenError";
  constructor(host: string, port: number, code: string | undefined) {
    super("metrics", "MQGATE_METRICS_PORT", host, port, code);
  }
}

/** The HTTP listener of `config.metrics`: GET /metrics, /healthz (liveness) and /readyz (readiness). */
export interface MetricsListener {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly readiness: Readiness;
  close(): Promise<void>;
}

export interface MetricsListenerOptions extends ReadinessOptions {
  /** True once shutdown has started (readiness answers 503 "draining"). */
  isDraining: () => boolean;
}

/**
 * Starts the metrics listener for `broker`, whose store must be `metrics.instrument(...)`'s result for the store
 * calls to be timed and `metrics.observe(broker)` done. Also starts the readiness probe; `close()` stops both.
 */
export async function startMetricsListener(
  listen: ListenerConfig,
  metrics: BrokerMetrics,
  broker: Broker,
  opts: MetricsListenerOptions,
): Promise<MetricsListener> {
  const readiness = new Readiness(broker.journal, broker.store, opts.isDraining, opts);
  metrics.reportStoreCalls((operation, ok, err) => readiness.recordStoreCall(operation, ok, err));
  metrics.observeReadiness(readiness);
  const registry = metrics.registry;
  const server = createServer((req, res) => serve(req, res, registry, readiness));
  const requested = listen.port ?? 0;
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new MetricsListenError(listen.host, requested, err.code)));
    server.listen(requested, listen.host, () => {
      server.removeAllListeners("error");
      resolve((server.address() as AddressInfo).port);
    });
  });
  readiness.start();
  let closed: Promise<void> | null = null;
  return {
    host: listen.host,
    port,
    registry,
    readiness,
    close() {
      closed ??= new Promise<void>((resolve) => {
        readiness.stop();
        metrics.reportStoreCalls(null);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function serve(req: IncomingMessage, res: ServerResponse, registry: Registry, readiness: Readiness): void {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "application/json", '{"error":"method not allowed"}', { allow: "GET, HEAD" });
    return;
  }
  switch (path) {
    case "/metrics":
      registry.metrics().then(
        (body) => send(res, 200, registry.contentType, body),
        () => send(res, 500, "application/json", '{"error":"metrics collection failed"}'),
      );
      return;
    case "/healthz":
      send(res, 200, "application/json", '{"status":"ok"}');
      return;
    case "/readyz": {
      const status = readiness.check();
      const body = status.ready ? { status: "ready" } : { status: "not-ready", reason: status.reason, detail: status.detail };
      send(res, status.ready ? 200 : 503, "application/json", JSON.stringify(body));
      return;
    }
    default:
      send(res, 404, "application/json", '{"error":"not found: GET /metrics, /healthz or /readyz"}');
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store", "content-length": Buffer.byteLength(body), ...headers });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
