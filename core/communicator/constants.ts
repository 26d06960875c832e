/** Entries per SendMessageBatch / DeleteMessageBatch / ReceiveMessage: the SQS maximum. */
export const SQS_BATCH_ENTRIES = 10;

/**
 * Largest encoded message (and SendMessageBatch request) mqgate sends: 256 KiB, the SQS limit that holds for
 * every queue (queues created before August 2025, Lambda event payloads). SQS accepts up to 1 MiB on queues
 * configured for it; raise `maxMessageBytes` only together with the queues' MaximumMessageSize.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 262_144;

/** SQS hard maximum for MaximumMessageSize. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/** Long-poll wait, the SQS maximum: fewest empty receives. */
export const DEFAULT_WAIT_TIME_SECONDS = 20;
