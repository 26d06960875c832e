import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";
import type { Communicator, NodeMessage } from "../core/communicator/types.js";
import type { EventSink } from "../core/events/sink.js";
import type { Store } from "../core/store/types.js";
import type { Broker } from "./broker.js";
import type { EventBufferStats } from "./event-buffer.js";
import type { Readiness } from "./health.js";
import { observeBroker } from "./metrics-broker.js";
import { type LeaseFigures, observeEvents, observeLease, observeReadiness } from "./metrics-collectors.js";

/**
 * Prometheus metrics of one broker process, on their own registry (never prom-client's global one), served with
 * the health endpoints on the metrics listener (`config.metrics`). See docs/operations.md for the reference.
 *
 * The hot path never touches prom-client: the broker counts with plain number increments (BrokerStats) and the
 * metrics read those counters, and sum over the sessions, at scrape time in `collect()` callbacks. What is
 * observed directly is per store call (one `apply` is one journal batch, not one message) and per refused
 * connection. No label carries a client id, a user name or a topic.
 *
 * This file: the registry and the timing of store and SQS calls. The collectors read at scrape time are in
 * broker/metrics-broker.ts (the broker core, authentication) and broker/metrics-collectors.ts (lease, events
 * buffer, readiness); the HTTP listener is broker/metrics-listener.ts.
 */

/** Seconds; from a local Redis (sub-millisecond) to a store call that times out (10 s). */
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** SQS sends take milliseconds to tens of milliseconds; retries push them to seconds. */
const SQS_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Store calls of a running broker (journal batches, session claims and releases, SUBSCRIBE, the readiness probe). */
const BROKER_STORE_CALLS = ["apply", "claimSession", "releaseSession", "updateSubscriptions", "ping"] as const;

type AnyFn = (...args: unknown[]) => unknown;
type Observe = (seconds: number) => void;

/** The registry, the store and SQS instrumentation, and the registration of the collectors that read at scrape time. */
export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly storeDuration: Histogram<"operation">;
  private readonly storeErrors: Counter<"operation">;
  private readonly storeBatchOps: Counter;
  private readonly sqsDuration: Histogram<"operation">;
  private readonly sqsErrors: Counter<"operation">;
  private readonly timers = new Map<string, Observe>();
  /** Told how every store call ended (readiness); `err` is only meaningful when `ok` is false. */
  private onStoreCall: ((operation: string, ok: boolean, err: unknown) => void) | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "mqgate_" });
    const registers = [this.registry];
    this.storeDuration = new Histogram({
      name: "mqgate_store_call_duration_seconds",
      help: "Duration of the store calls of this process, by operation; operation=\"apply\" is one journal batch of writes",
      labelNames: ["operation"],
      buckets: STORE_BUCKETS,
      registers,
    });
    this.storeErrors = new Counter({
      name: "mqgate_store_call_errors_total",
      help: "Store calls that failed, by operation (a failed journal batch is retried and counts once per attempt)",
      labelNames: ["operation"],
      registers,
    });
    // The calls the broker makes by itself have their series from the start (rate() and alerts need no warm-up).
    for (const operation of BROKER_STORE_CALLS) {
      this.storeDuration.zero({ operation });
      this.storeErrors.inc({ operation }, 0);
    }
    this.storeBatchOps = new Counter({
      name: "mqgate_store_batch_ops_total",
      help: "Writes sent to the store in journal batches (apply calls, retries included)",
      registers,
    });
    this.sqsDuration = new Histogram({
      name: "mqgate_sqs_call_duration_seconds",
      help: "Duration of sends to SQS until accepted (SDK and own retries included), by operation: node-send (to another node's queue), events-send (to the events queue)",
      labelNames: ["operation"],
      buckets: SQS_BUCKETS,
      registers,
    });
    this.sqsErrors = new Counter({
      name: "mqgate_sqs_call_errors_total",
      help: "Sends to SQS that failed after their retries, by operation",
      labelNames: ["operation"],
      registers,
    });
    for (const operation of ["node-send", "events-send"]) {
      this.sqsDuration.zero({ operation });
      this.sqsErrors.inc({ operation }, 0);
    }
  }

  /** Times the sends of a communicator (node-send) in mqgate_sqs_call_duration_seconds. */
  instrumentCommunicator(communicator: Communicator): Communicator {
    const c = communicator;
    return {
      kind: c.kind,
      start: (nodeId, handler) => c.start(nodeId, handler),
      send: (nodeId: string, messages: NodeMessage[]) => this.timeSqs("node-send", c.send(nodeId, messages)),
      stop: (opts) => c.stop(opts),
      drainQueue: (nodeId, handler) => c.drainQueue(nodeId, handler),
      deleteNodeQueue: (nodeId) => c.deleteNodeQueue(nodeId),
    };
  }

  /** Times the emits of an event sink (events-send) in mqgate_sqs_call_duration_seconds. */
  instrumentEvents(sink: EventSink): EventSink {
    return { emit: (events) => this.timeSqs("events-send", sink.emit(events)), close: () => sink.close() };
  }

  private timeSqs<T>(operation: string, call: Promise<T>): Promise<T> {
    const started = performance.now();
    return call.then(
      (value) => {
        this.sqsDuration.observe({ operation }, (performance.now() - started) / 1000);
        return value;
      },
      (err: unknown) => {
        this.sqsDuration.observe({ operation }, (performance.now() - started) / 1000);
        this.sqsErrors.inc({ operation });
        throw err;
      },
    );
  }

  /** From now on every store call's end is reported to `onStoreCall` (the readiness probe), or to nothing (null). */
  reportStoreCalls(onStoreCall: ((operation: string, ok: boolean, err: unknown) => void) | null): void {
    this.onStoreCall = onStoreCall;
  }

  /**
   * The store seen through a timer: every call is observed in `mqgate_store_call_duration_seconds` (one
   * observation per call, so one per journal batch) and reported to `onStoreCall` (`reportStoreCalls`). Methods run on the original
   * object; properties read through.
   */
  instrument(store: Store): Store {
    const wrapped = new Map<PropertyKey, unknown>();
    return new Proxy(store, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        let fn = wrapped.get(prop);
        if (fn === undefined) {
          const bound = (value as AnyFn).bind(target) as AnyFn;
          fn = typeof prop === "string" && prop !== "close" && prop !== "constructor" ? this.timed(prop, bound) : bound;
          wrapped.set(prop, fn);
        }
        return fn;
      },
    });
  }

  private timed(operation: string, call: AnyFn): AnyFn {
    const isApply = operation === "apply";
    return (...args: unknown[]): unknown => {
      const started = performance.now();
      if (isApply && Array.isArray(args[0])) this.storeBatchOps.inc(args[0].length);
      let result: unknown;
      try {
        result = call(...args);
      } catch (err) {
        this.ended(operation, started, false, err);
        throw err;
      }
      if (!(result instanceof Promise)) return result;
      return result.then(
        (value: unknown) => {
          this.ended(operation, started, true, null);
          return value;
        },
        (err: unknown) => {
          this.ended(operation, started, false, err);
          throw err;
        },
      );
    };
  }

  private ended(operation: string, started: number, ok: boolean, err: unknown): void {
    let observe = this.timers.get(operation);
    if (observe === undefined) {
      const child = this.storeDuration.labels(operation);
      observe = (seconds) => child.observe(seconds);
      this.timers.set(operation, observe);
    }
    observe((performance.now() - started) / 1000);
    if (!ok) this.storeErrors.inc({ operation });
    // The readiness probe judges its own pings (a ping answers false instead of failing).
    if (operation !== "ping") this.onStoreCall?.(operation, ok, err);
  }

  /**
   * Registers the collectors that read `broker` at scrape time, and listens for refused connections. Once per
   * registry, before the broker's listeners accept anything.
   */
  observe(broker: Broker): void {
    observeBroker(this.registry, broker);
  }

  /** A cluster node's lease and the wills it keeps in the store (decision 019), read at scrape time. Once per registry. */
  observeLease(read: () => LeaseFigures): void {
    observeLease(this.registry, read);
  }

  /** Registers the gauges and the drop counter of the events buffer (broker/event-buffer.ts). Once per registry. */
  observeEvents(buffer: EventBufferStats): void {
    observeEvents(this.registry, buffer);
  }

  /** Registers the readiness gauges. Once per registry. */
  observeReadiness(readiness: Readiness): void {
    observeReadiness(this.registry, readiness);
  }
}
