import { TopicIndex } from "../core/topic/index.js";
import type { Message } from "./types.js";

/**
 * Retained messages, one per topic [MQTT-3.3.1-5]: replaced by a newer one, cleared by an empty payload
 * [MQTT-3.3.1-10] [MQTT-3.3.1-11], bounded by `maxRetained`.
 */
export class RetainedStore {
  private readonly index = new TopicIndex<Message>();

  constructor(private readonly maxRetained: number) {}

  /** Applies a PUBLISH with RETAIN=1. Returns false when it was not stored because the store is full. */
  apply(msg: Message): boolean {
    if (msg.payload.length === 0) {
      this.index.delete(msg.topic);
      return true;
    }
    if (this.index.size >= this.maxRetained && this.index.get(msg.topic) === undefined) return false;
    this.index.set(msg.topic, msg);
    return true;
  }

  get(topic: string): Message | undefined {
    return this.index.get(topic);
  }

  delete(topic: string): boolean {
    return this.index.delete(topic);
  }

  forEachMatching(filter: string, visit: (topic: string, msg: Message) => void): void {
    this.index.matchFilter(filter, visit);
  }

  get size(): number {
    return this.index.size;
  }
}
