import type { QoS } from "mqtt-packet";
import { encodePublish, publishFlags, publishSize, writePublish } from "./codec.js";
import { publish5Size, writePublish5 } from "./codec5.js";
import { copyBytes } from "./decoder.js";
import { NO_BYTES } from "./no-bytes.js";
import type { Outbox } from "./outbox.js";
import { propertyBlock } from "./publish5.js";
import type { Message } from "./types.js";
import { MAX_BATCHED_PACKET } from "./write-batches.js";

/**
 * The last PUBLISH written into a batch. The broker hands one message to all its receivers in a row, so the next
 * receiver of the same message copies these bytes instead of encoding them again. The bytes are never overwritten:
 * a batch buffer is only ever appended to, and one given back as a spare is forgotten here first (`forgetPublishIn`).
 */
const lastPublish = { msg: null as Message | null, withId: false, buf: NO_BYTES, at: 0, size: 0, idOffset: 0 };

/** A 3.1.1 PUBLISH, written into `outbox`'s batch (a large one as it is). */
export function batchPublish(outbox: Outbox, msg: Message, qos: QoS, retain: boolean, dup: boolean, packetId: number): void {
  const withId = qos > 0;
  if (msg === lastPublish.msg && withId === lastPublish.withId) {
    // The same message to the next receiver (fan-out): copy its bytes, then set this receiver's flags and id.
    const size = lastPublish.size;
    const at = outbox.reserve(size);
    if (at < 0) return;
    const out = outbox.batch;
    copyBytes(lastPublish.buf, lastPublish.at, lastPublish.at + size, out, at);
    out[at] = publishFlags(qos, retain, dup);
    if (withId) {
      const idAt = at + lastPublish.idOffset;
      out[idAt] = packetId >> 8;
      out[idAt + 1] = packetId & 0xff;
    }
    return;
  }
  const topicBytes = Buffer.byteLength(msg.topic);
  const size = publishSize(topicBytes, msg.payload.length, withId);
  if (size > MAX_BATCHED_PACKET) {
    outbox.write(encodePublish(msg.topic, topicBytes, msg.payload, qos, retain, dup, packetId));
    return;
  }
  const at = outbox.reserve(size);
  if (at < 0) return;
  const out = outbox.batch;
  const idAt = writePublish(out, at, msg.topic, topicBytes, msg.payload, qos, retain, dup, packetId);
  lastPublish.msg = msg;
  lastPublish.withId = withId;
  lastPublish.buf = out;
  lastPublish.at = at;
  lastPublish.size = size;
  lastPublish.idOffset = idAt - at;
}

/**
 * An MQTT 5 PUBLISH, written into `outbox`'s batch like a 3.1.1 one (its property block encoded once per message).
 * `now`: the broker's clock for a message with an expiry (its remaining interval), else 0.
 */
export function batchPublish5(
  outbox: Outbox,
  msg: Message,
  qos: QoS,
  retain: boolean,
  dup: boolean,
  packetId: number,
  subIds: readonly number[] | undefined,
  now: number,
): void {
  const block = propertyBlock(msg, now, subIds);
  const topicBytes = Buffer.byteLength(msg.topic);
  const size = publish5Size(topicBytes, block, msg.payload.length, qos > 0);
  if (size > MAX_BATCHED_PACKET) {
    const buf = Buffer.allocUnsafe(size);
    writePublish5(buf, 0, msg.topic, topicBytes, block, msg.payload, qos, retain, dup, packetId);
    outbox.write(buf);
    return;
  }
  const at = outbox.reserve(size);
  if (at >= 0) writePublish5(outbox.batch, at, msg.topic, topicBytes, block, msg.payload, qos, retain, dup, packetId);
}

/** Batch `out` is given back to be written into again: the last PUBLISH's bytes in it are forgotten. */
export function forgetPublishIn(out: Buffer): void {
  if (lastPublish.buf === out) {
    lastPublish.msg = null;
    lastPublish.buf = NO_BYTES;
  }
}
