import type { Registry } from "prom-client";
import { labeledCounter, scrapedCounter } from "../metrics-counters.js";
import type { LinkCounters } from "./types.js";

/** The node links' series (mqgate_link_*), read from their counters at scrape time. */
export function registerLinkMetrics(registry: Registry, counters: LinkCounters): void {
  const counter = (name: string, help: string, get: () => number): void => scrapedCounter(registry, name, help, get);
  labeledCounter(
    registry,
    "mqgate_link_rejected_total",
    "Inbound node link connections cut or refused, by reason: handshake-limit, handshake-timeout, bad-auth, oversize, malformed",
    "reason",
    () => counters.rejectedBy,
  );
  labeledCounter(
    registry,
    "mqgate_link_fallback_total",
    "Forward batches sent by the node queue (SQS) instead of a link, by reason: down, saturated, ack-timeout, nack, cut, too-large",
    "reason",
    () => counters.fallbackBy,
  );
  counter("mqgate_link_accepted_total", "Inbound node links authenticated", () => counters.acceptedLinks);
  counter("mqgate_link_batches_sent_total", "Forward batches sent over node links", () => counters.sentBatches);
  counter("mqgate_link_batches_acked_total", "Forward batches acknowledged by the receiving node", () => counters.ackedBatches);
  counter("mqgate_link_messages_received_total", "Node messages received over node links", () => counters.receivedMessages);
  counter("mqgate_link_duplicates_total", "Forwards skipped because they had arrived by the other path (link or node queue) already", () => counters.duplicates);
}
