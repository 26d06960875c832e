import type { QoS } from "mqtt-packet";
import type { MessageProperties } from "../core/message-properties.js";
import { orderKeyAt } from "../core/order-key.js";
import type { Message } from "./types.js";

/**
 * A QoS 1/2 message an MQTT client published here, whose order key (decision 038) is built when it is read.
 *
 * The key is read only where the message leaves memory (a store write for a persistent session, a forward to
 * another node); a publish delivered to clean sessions of this node never reads it, and building it for every
 * publish cost ~130 B of garbage per message. Its parts are taken when the message is received (the prefix of the
 * publisher's claim then, core/order-key.ts `orderKeyPrefix`, and its publish count), so the key read is the one
 * an eager build would have made.
 *
 * `order` is a getter on the prototype: a copy of a message must name its fields (as core/store and
 * core/communicator/wire.ts do), never spread it. A 3.1.1 message has no `props` or `publishedAt` field at all
 * (reading them gives undefined, as for a plain message without them): 16 B less per message.
 */
export class PublishedMessage implements Message {
  constructor(
    readonly topic: string,
    readonly payload: Buffer,
    readonly qos: QoS,
    readonly retain: boolean,
    private readonly prefix: string,
    private readonly n: number,
  ) {}

  get order(): string {
    return orderKeyAt(this.prefix, this.n);
  }
}

/** The same with MQTT 5 properties (and, with a Message Expiry Interval, the time it was published). */
export class PublishedMessage5 extends PublishedMessage {
  constructor(
    topic: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    prefix: string,
    n: number,
    readonly props: MessageProperties,
    readonly publishedAt: number | undefined,
  ) {
    super(topic, payload, qos, retain, prefix, n);
  }
}
