export * from "./schema.js";
export * from "./errors.js";
export { parseEvent, encodeEvent } from "./parse.js";
export { createIdFactory, newEventId } from "./ids.js";
export { createEventFactory, type EventFactoryOptions, type EventFields, type MakeEvent } from "./factory.js";
export { publishedTopicFilter, publishedTopicsSchema, DEFAULT_EXCLUDED_TOPICS, type PublishedTopicsConfig } from "./filter.js";
export { MemoryEventSink, type EventSink, type MemoryEventSinkOptions } from "./sink.js";
export { SqsEventSink, createEventsQueue, type SqsEventSinkOptions } from "./sqs-sink.js";
