import type { Logger } from "pino";
import type { Broker } from "./broker.js";

/**
 * Turns broker events into structured log lines, with clientId on every client line (node is in the base
 * bindings). Never logs payloads or passwords.
 */
export function attachLogging(broker: Broker, log: Logger): void {
  broker.on("client.connected", (session, conn, sessionPresent) => {
    log.info(
      { clientId: session.clientId, username: conn.client?.username, remote: conn.remoteAddress, transport: conn.transport, clean: session.clean, sessionPresent, keepalive: conn.keepalive },
      "client connected",
    );
  });
  broker.on("client.disconnected", (clientId, reason, err, conn) => {
    const level = reason === "client-disconnect" || reason === "socket-closed" || reason === "takeover" ? "info" : "warn";
    log[level]({ clientId, reason, remote: conn.remoteAddress, err: err?.message }, "client disconnected");
  });
  broker.on("client.refused", (conn, returnCode, reason) => {
    log.warn({ clientId: conn.clientId, username: conn.client?.username, remote: conn.remoteAddress, returnCode, reason }, "connect refused");
  });
  broker.on("connection.closed", (conn, reason, err) => {
    log.info({ clientId: conn.clientId, remote: conn.remoteAddress, reason, err: err?.message }, "connection closed before session start");
  });
  broker.on("session.unsubscribed", (clientId, filter, source) => {
    if (source === "policy") log.info({ clientId, filter }, "restored subscription removed: the client's current rules refuse it");
  });
  broker.on("session.expired", (clientId, username) => {
    log.info({ clientId, username }, "offline session expired and deleted");
  });
  broker.on("subscribe.refused", (clientId, filter, reason) => {
    log.info({ clientId, filter, reason }, "subscription refused");
  });
  broker.on("store.error", (operation, err, attempt) => {
    log.error({ operation, attempt, err: err.message }, "store call failed; acknowledgements that depend on it are held");
  });
  broker.on("journal.stalled", (batchId, waitedMs, pending) => {
    log.warn({ batchId, waitedMs, pending }, "acknowledgements held: a journal batch still waits for its side effects");
  });
  // Accepts fail together (a process out of file descriptors fails every accept): one line per 10 s, with a count.
  let acceptFailures = 0;
  let acceptLoggedAt = -Infinity;
  broker.on("listener.acceptFailed", (transport, err) => {
    acceptFailures++;
    const now = Date.now();
    if (now - acceptLoggedAt < 10_000) return;
    acceptLoggedAt = now;
    log.warn({ transport, err: err.message, failures: acceptFailures }, "accept failed; the listener goes on (out of file descriptors? see docs/operations.md)");
    acceptFailures = 0;
  });
  broker.on("store.recovered", () => {
    log.warn("store reachable again");
  });
  broker.on("cluster.error", (operation, err) => {
    log.warn({ operation, err: err.message }, "cluster operation failed; retried or worked around");
  });
  broker.on("cluster.node-removed", (nodeId, sessions, drained) => {
    log.warn({ deadNode: nodeId, sessions, drained }, "dead node cleaned up: its sessions are offline, its queue drained");
  });
  broker.on("events.overflow", (full, dropped) => {
    if (full) log.error({ dropped }, "events buffer full: events are dropped and QoS 1/2 publishes refused until the events queue accepts again");
    else log.warn({ dropped }, "events buffer has room again; events dropped while it was full");
  });
  broker.on("message.dropped", (clientId, msg, reason) => {
    log.debug({ clientId, topic: msg.topic, qos: msg.qos, reason }, "message dropped");
  });
}
