/**
 * Shape of the `cluster` section of the mqgate configuration. Shared by the full and the file schema
 * (core/config/schema.ts).
 */
import * as z from "zod";
import { COMMUNICATORS, int, nonEmptyString, oneOf, TIMER_MAX_MS } from "./schema-leaves.js";

const queuePrefixError = "must be 1..40 letters, digits, '-' or '_'";

export const clusterShape = {
  communicator: oneOf(COMMUNICATORS),
  queuePrefix: z.string({ error: queuePrefixError }).regex(/^[A-Za-z0-9_-]{1,40}$/, { error: queuePrefixError }),
  sqsRegion: nonEmptyString("must be a non-empty AWS region name").optional(),
  heartbeatMs: int(100, 60_000),
  nodeTtlMs: int(300, 600_000),
  leaseMarginMs: int(0, 600_000),
  resyncMs: int(0, TIMER_MAX_MS),
  deadQueueGraceMs: int(0, TIMER_MAX_MS),
  deadLetterQueueArn: z
    .string({ error: "must be an SQS FIFO queue ARN" })
    .regex(/^arn:[a-z-]+:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,75}\.fifo$/, { error: "must be an SQS FIFO queue ARN" })
    .optional(),
  address: nonEmptyString("must be a non-empty host:port").optional(),
  links: z.boolean({ error: "must be true or false" }),
  linkHost: nonEmptyString("must be a non-empty host name or address"),
  linkPort: int(0, 65535),
  linkAdvertiseHost: nonEmptyString("must be a non-empty host name or address").optional(),
  linkSecret: z.string({ error: "must be a string of at least 32 characters" }).min(32, { error: "must be a string of at least 32 characters" }).optional(),
  linkAckTimeoutMs: int(10, 60_000),
};
