/**
 * Shapes of the `events`, `log`, `emf` and `shutdown` sections of the mqgate configuration. Shared by the
 * full and the file schema (core/config/schema.ts).
 */
import * as z from "zod";
import { publishedTopicsSchema } from "../events/filter.js";
import { int, INT32_MAX, LOG_LEVELS, oneOf, TIMER_MAX_MS, url } from "./schema-leaves.js";

export const eventsShape = {
  queueUrl: url(["http:", "https:"], "must be an http:// or https:// SQS queue URL").optional(),
  // MQTT topic filters, checked like subscriptions.
  ...publishedTopicsSchema.shape,
  maxBufferedEvents: int(1, INT32_MAX),
  maxBufferedBytes: int(1024, INT32_MAX),
};

export const logShape = { level: oneOf(LOG_LEVELS) };

const emfNamespaceError = "must be 1..255 of A-Z a-z 0-9 . _ # : / -";
const emfDimensionError = "must be 1..255 characters without control characters";
/** CloudWatch embedded metric format lines on stdout (docs/operations.md). */
export const emfShape = {
  /** Seconds between two exports; 0 = off. */
  intervalSeconds: int(0, 3600),
  namespace: z.string({ error: emfNamespaceError }).regex(/^[A-Za-z0-9._#:/-]{1,255}$/, { error: emfNamespaceError }),
  /** Value of the `cluster` dimension: the deployment (app and stage). */
  cluster: z.string({ error: emfDimensionError }).regex(/^[^\p{Cc}]{1,255}$/u, { error: emfDimensionError }),
};
export const shutdownShape = { drainMs: int(0, TIMER_MAX_MS) };
