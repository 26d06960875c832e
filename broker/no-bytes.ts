/**
 * The one empty Buffer of the broker: what a placeholder refers to when it has no bytes (a lent packet not out, the
 * payload of a stand-in message, a forgotten batch). It has no bytes to write into, so every module shares it.
 */
export const NO_BYTES: Buffer = Buffer.alloc(0);
