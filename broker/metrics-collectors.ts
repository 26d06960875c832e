import { Counter, Gauge, type Registry } from "prom-client";
import type { EventBufferStats } from "./event-buffer.js";
import type { Readiness } from "./health.js";
import { labeledCounter } from "./metrics-counters.js";

// The Prometheus collectors of the parts around the broker core, read at scrape time: a cluster node's lease and
// wills, the events buffer, readiness (broker/metrics.ts registers them).

/** What `observeLease` reads (broker/lease-setup.ts). */
export interface LeaseFigures {
  valid: boolean;
  losses: number;
  willsStored: number;
  willsReaped: number;
}

/** A cluster node's lease and the wills it keeps in the store (decision 019), read at scrape time. Once per registry. */
export function observeLease(registry: Registry, read: () => LeaseFigures): void {
  const registers = [registry];
  new Gauge({ name: "mqgate_lease_valid", help: "1 while this node's lease holds (it serves), 0 while it registers again", registers, collect() { this.set(read().valid ? 1 : 0); } });
  new Counter({ name: "mqgate_lease_losses_total", help: "Times this node gave up its lease (closed every connection, registered again)", registers, collect() { this.reset(); this.inc(read().losses); } });
  new Gauge({ name: "mqgate_wills_stored", help: "Wills of this node's connections kept in the store", registers, collect() { this.set(read().willsStored); } });
  new Counter({
    name: "mqgate_wills_reaped_total",
    help: "Wills this node published for clients of a dead node or of its own earlier incarnation",
    registers,
    collect() { this.reset(); this.inc(read().willsReaped); },
  });
}

/** Registers the gauges and the drop counter of the events buffer (broker/event-buffer.ts). Once per registry. */
export function observeEvents(registry: Registry, buffer: EventBufferStats): void {
  const registers = [registry];
  new Gauge({
    name: "mqgate_events_buffered",
    help: "Events held for the events queue (waiting, being sent, or retried during an SQS outage)",
    registers,
    collect() {
      this.set(buffer.events);
    },
  });
  new Gauge({
    name: "mqgate_events_buffered_bytes",
    help: "Approximate bytes of the events held for the events queue",
    registers,
    collect() {
      this.set(buffer.bytes);
    },
  });
  labeledCounter(registry, "mqgate_events_dropped_total", "Events never sent to the events queue, by reason: buffer-full, invalid, too-large, shutdown", "reason", () => buffer.dropped);
}

/** Registers the readiness gauges. Once per registry. */
export function observeReadiness(registry: Registry, readiness: Readiness): void {
  const registers = [registry];
  new Gauge({
    name: "mqgate_store_up",
    help: "1 while the store answers (as readiness sees it), 0 while it is unreachable",
    registers,
    collect() {
      this.set(readiness.storeReachable ? 1 : 0);
    },
  });
  new Gauge({
    name: "mqgate_ready",
    help: "1 while /readyz answers 200, 0 while draining or while the store is unreachable",
    registers,
    collect() {
      this.set(readiness.check().ready ? 1 : 0);
    },
  });
}
