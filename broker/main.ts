import { isIP } from "node:net";
import { pino } from "pino";
import { configuredBackends, createAuth } from "../core/auth/index.js";
import { ConfigError, loadConfig, redactConfig } from "../core/config/index.js";
import { createStore } from "../core/store/index.js";
import { PortListenError } from "../core/listen-error.js";
import { createClusterParts } from "./cluster-setup.js";
import { installHeapProbe } from "./heap-probe.js";
import { attachLogging } from "./logging.js";
import { startBroker } from "./server.js";
import { VERSION } from "./version.js";

/** Process edge of the broker: configuration, logging, listeners, signals. */
async function main(): Promise<void> {
  installHeapProbe();
  const config = await loadConfig();
  const log = pino({ level: config.log.level, base: { node: config.nodeId } });
  // What the broker runs with, after defaults, file and environment: secrets and URL passwords masked.
  if (log.isLevelEnabled("debug")) log.debug({ config: redactConfig(config) }, "configuration");
  const store = await createStore({ redisUrl: config.redisUrl ?? null });
  const auth = await createAuth(config.auth, { store });
  log.info({ store: store.kind }, "store ready");
  const cluster = await createClusterParts(config, (operation, err) => log.warn({ operation, err: err.message }, "cluster call failed"));
  const running = await startBroker(config, auth, store, cluster.parts);
  attachLogging(running.broker, log);
  if (running.cluster !== null) {
    log.info({ nodeId: config.nodeId, queuePrefix: config.cluster.queuePrefix }, "cluster node registered");
    process.stderr.write(`mqgate cluster node ${config.nodeId} (queue prefix ${config.cluster.queuePrefix})\n`);
  }

  for (const l of running.listeners) log.info({ transport: l.transport, host: l.host, port: l.port }, "listening");
  const where = running.listeners.map((l) => `${l.transport}://${displayHost(l.host)}:${l.port}`).join("  ");
  process.stderr.write(`mqgate ${VERSION} broker ready (node ${config.nodeId}): ${where}\n`);
  const http = running.http;
  if (http !== null) {
    http.on("request.failed", (err, event) => log.error({ err, path: event.rawPath, requestId: event.requestContext.requestId }, "REST request failed"));
    const key =
      http.devKey.source === "generated"
        ? `development API key (admin, this process only): ${http.devKey.key}`
        : http.devKey.source === "env"
          ? "API key: MQGATE_API_KEY (admin)"
          : "no development key (shared store): create keys with `npm run keys -- create`";
    process.stderr.write(`mqgate REST API ready: http://${displayHost(http.host)}:${http.port}/v1  ${key}\n`);
  }
  if (running.metrics !== null) {
    const m = running.metrics;
    log.info({ host: m.host, port: m.port }, "metrics listening");
    process.stderr.write(`mqgate metrics: http://${displayHost(m.host)}:${m.port}/metrics  health: /healthz /readyz\n`);
  }
  if (configuredBackends(config.auth).includes("allow-all") && running.listeners.some((l) => !isLoopback(l.host))) {
    log.warn("auth mode is allow-all and a listener is bound beyond loopback: any client can connect, publish and subscribe. Set auth.mode=acl or auth.backends (e.g. store,acl) for production.");
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), config.shutdown.drainMs).unref();
    running
      .close()
      .then(() => store.close())
      .then(() => cluster.destroy())
      .then(
      () => {
        clearTimeout(force);
        log.info("stopped");
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

function displayHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "localhost";
  return isIP(host) === 6 ? `[${host}]` : host;
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`mqgate: invalid configuration\n${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof PortListenError) {
    process.stderr.write(`mqgate: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`mqgate: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
