/** One problem with an event: where (a field path, "" for the whole body) and what. */
export interface EventIssue {
  path: string;
  message: string;
}

/** Base class of the events module's errors. */
export class EventError extends Error {
  override readonly name: string = "EventError";
  constructor(
    /** invalid-json | not-an-object | unsupported-version | unknown-type | invalid-field | sink-closed */
    readonly code: string,
    message: string,
    readonly issues: EventIssue[] = [],
  ) {
    super(message);
  }
}

/** A consumer got a body that is not a valid event (parseEvent). Retrying will not fix it. */
export class EventParseError extends EventError {
  override readonly name = "EventParseError";
}

/** A producer tried to emit something that is not a valid event; nothing was emitted. */
export class InvalidEvent extends EventError {
  override readonly name = "InvalidEvent";
}

/** emit() after close(). */
export class EventSinkClosed extends EventError {
  override readonly name = "EventSinkClosed";
  constructor() {
    super("sink-closed", "the event sink is closed");
  }
}
