import { createHash } from "node:crypto";

/** SQS queue names: 1–80 characters, letters, digits, '-' and '_', FIFO ones ending in ".fifo". */
const MAX_NAME = 80;
const SAFE = /^[A-Za-z0-9_-]+$/;
const FIFO_SUFFIX = ".fifo";
const HASH_CHARS = 10;

/** Validates a queue name prefix (the deployment's name, e.g. "mqgate-prod"). */
export function checkQueuePrefix(prefix: string): void {
  if (!SAFE.test(prefix) || prefix.length > 40) {
    throw new Error(`queue prefix ${JSON.stringify(prefix)} must be 1-40 letters, digits, '-' or '_'`);
  }
}

/**
 * The node queue's name: `<prefix>-node-<nodeId>.fifo`. A node id that is not a safe name, or too long, is
 * cleaned up and suffixed with a hash of the original, so any sender computes the same name from the node id and
 * two different ids never share a queue in practice.
 */
export function nodeQueueName(prefix: string, nodeId: string): string {
  checkQueuePrefix(prefix);
  if (nodeId.length === 0) throw new Error("node id must not be empty");
  const head = `${prefix}-node-`;
  const room = MAX_NAME - head.length - FIFO_SUFFIX.length;
  if (SAFE.test(nodeId) && nodeId.length <= room) return `${head}${nodeId}${FIFO_SUFFIX}`;
  const hash = createHash("sha256").update(nodeId, "utf8").digest("hex").slice(0, HASH_CHARS);
  const cleaned = nodeId.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, room - HASH_CHARS - 1);
  return `${head}${cleaned}-${hash}${FIFO_SUFFIX}`;
}
