export * from "./types.js";
export * from "./errors.js";
export * from "./constants.js";
export { nodeMessageSchema, encodeNodeMessage, decodeNodeMessage } from "./schema.js";
export { fromWireMessage, toWireMessage, toWireTarget, type DecodedMessage, type MessageFields } from "./wire.js";
export { MemoryCommunicator, MemoryRegistry, processRegistry, type MemoryCommunicatorOptions } from "./memory.js";
export { SqsCommunicator, type SqsCommunicatorOptions } from "./sqs.js";
export { createSqsClient, EMULATOR_CREDENTIALS, type SqsClientOptions } from "./sqs-client.js";
export { nodeQueueName } from "./queue-names.js";
