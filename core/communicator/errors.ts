/**
 * Errors of the communicators. `send` rejects with NodeUnreachable, PayloadTooLarge, BufferFull or SendFailed;
 * the receive side never throws at its caller: it reports MalformedMessage, DeliveryFailed and ReceiveFailed
 * through the `onError` option, because there is no caller to throw at.
 */
export class CommunicatorError extends Error {
  override readonly name: string = "CommunicatorError";
  /** Stable machine-readable code, for mapping and metrics. */
  readonly code: string = "communicator-error";
  /** HTTP status a REST handler should answer with when this error reaches it. */
  readonly statusCode: number = 500;
}

/** The target node has no queue (it stopped gracefully, was cleaned up, or never existed). */
export class NodeUnreachable extends CommunicatorError {
  override readonly name = "NodeUnreachable";
  override readonly code = "node-unreachable";
  override readonly statusCode = 503;
  constructor(readonly nodeId: string, options?: ErrorOptions) {
    super(`node ${JSON.stringify(nodeId)} is unreachable: it has no queue`, options);
  }
}

/** One encoded message exceeds the transport limit; nothing of the `send` call was sent. */
export class PayloadTooLarge extends CommunicatorError {
  override readonly name = "PayloadTooLarge";
  override readonly code = "payload-too-large";
  override readonly statusCode = 413;
  constructor(readonly messageId: string, readonly bytes: number, readonly limit: number) {
    super(`message ${JSON.stringify(messageId)} is ${bytes} bytes encoded; the limit is ${limit}`);
  }
}

/** The bounded send buffer (or a stopped node's bounded mailbox) is full; nothing of the call was queued. */
export class BufferFull extends CommunicatorError {
  override readonly name = "BufferFull";
  override readonly code = "buffer-full";
  override readonly statusCode = 503;
  constructor(readonly target: string, readonly limit: number) {
    super(`send buffer for ${JSON.stringify(target)} is full (${limit} messages)`);
  }
}

/** The transport kept refusing some messages after the bounded retries; `failedIds` were not sent. */
export class SendFailed extends CommunicatorError {
  override readonly name = "SendFailed";
  override readonly code = "send-failed";
  override readonly statusCode = 503;
  constructor(readonly target: string, readonly failedIds: string[], reason: string, options?: ErrorOptions) {
    super(`sending to ${JSON.stringify(target)} failed for ${failedIds.length} message(s): ${reason}`, options);
  }
}

/** Reported (not thrown): a received body is not a valid NodeMessage. It was deleted, never retried. */
export class MalformedMessage extends CommunicatorError {
  override readonly name = "MalformedMessage";
  override readonly code = "malformed-message";
  override readonly statusCode = 400;
  constructor(readonly nodeId: string, readonly problem: string, readonly body: string) {
    super(`malformed message for node ${JSON.stringify(nodeId)}: ${problem}`);
  }
}

/**
 * Reported (not thrown): the handler rejected a batch. `dropped` false: the batch will be delivered again;
 * true: it had been delivered `attempts` times, the limit, and was deleted.
 */
export class DeliveryFailed extends CommunicatorError {
  override readonly name = "DeliveryFailed";
  override readonly code = "delivery-failed";
  constructor(
    readonly nodeId: string,
    readonly messageIds: string[],
    readonly attempts: number,
    readonly dropped: boolean,
    options?: ErrorOptions,
  ) {
    super(
      `handler of node ${JSON.stringify(nodeId)} failed on ${messageIds.length} message(s) (attempt ${attempts})` +
        (dropped ? "; dropped after the last attempt" : "; they will be delivered again"),
      options,
    );
  }
}

/** Reported (not thrown): receiving, deleting or extending messages failed; the receive loop backs off and goes on. */
export class ReceiveFailed extends CommunicatorError {
  override readonly name = "ReceiveFailed";
  override readonly code = "receive-failed";
  constructor(readonly nodeId: string, readonly operation: string, options?: ErrorOptions) {
    super(`${operation} for node ${JSON.stringify(nodeId)} failed: ${describe(options?.cause)}`, options);
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}

/** Receives what the receive side reports. The process edge logs it; libraries never do. */
export type CommunicatorErrorListener = (err: CommunicatorError) => void;
