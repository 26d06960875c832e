import type { SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSHandler, SQSRecord } from "aws-lambda";
import { pino } from "pino";
import { parseEvent } from "../core/events/parse.js";
import type { MqgateEvent } from "../core/events/schema.js";

/**
 * Example consumer of the events queue: a Lambda on the queue's event source mapping, which must be configured
 * with `FunctionResponseTypes: ["ReportBatchItemFailures"]` (partial batch responses) and a redrive policy
 * (a dead-letter queue takes what keeps failing, e.g. bodies that are not events).
 *
 * Records are handled one by one, in order. A record that fails (unparseable, or `handleEvent` threw) is reported
 * in `batchItemFailures`, and so is every later record of the same message group (the same clientId) without
 * being handled, so SQS redelivers them in order. Other clients' records go on.
 */

export type HandleEvent = (event: MqgateEvent, record: SQSRecord) => Promise<void> | void;

export interface EventsConsumerOptions {
  /** Told about each record that failed (not about the ones skipped behind it). */
  onFailure?: (record: SQSRecord, err: unknown) => void;
}

export function createEventsConsumer(handleEvent: HandleEvent, opts: EventsConsumerOptions = {}): (event: SQSEvent) => Promise<SQSBatchResponse> {
  return async (event) => {
    const batchItemFailures: SQSBatchItemFailure[] = [];
    const failedGroups = new Set<string>();
    for (const record of event.Records) {
      const group = record.attributes.MessageGroupId;
      if (group !== undefined && failedGroups.has(group)) {
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      try {
        await handleEvent(parseEvent(record.body), record);
      } catch (err) {
        batchItemFailures.push({ itemIdentifier: record.messageId });
        if (group !== undefined) failedGroups.add(group);
        opts.onFailure?.(record, err);
      }
    }
    return { batchItemFailures };
  };
}

// The process edge: module-scope logger, reused across invocations.
const log = pino({ base: { fn: "events-consumer" } });

/** The example's handling: one structured log line per event (never the payload). Replace with yours. */
export function logEvent(event: MqgateEvent): void {
  log.info({ id: event.id, type: event.type, clientId: event.clientId, node: event.node, ts: event.ts }, "event");
}

export const handler = createEventsConsumer(logEvent, {
  onFailure: (record, err) => log.warn({ messageId: record.messageId, err: err instanceof Error ? err.message : String(err) }, "event record failed"),
}) satisfies SQSHandler;
