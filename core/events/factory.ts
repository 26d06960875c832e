import { newEventId } from "./ids.js";
import { EVENT_VERSION, type EventOf, type EventType } from "./schema.js";

/** What a producer fills in; the factory adds v, id, type, ts and node. */
export type EventFields<T extends EventType> = Omit<EventOf<T>, "v" | "id" | "type" | "ts" | "node">;

export interface EventFactoryOptions {
  /** The emitting node's id ("rest" for the REST gateway). */
  node: string;
  now?: () => number;
  newId?: () => string;
}

export type MakeEvent = <T extends EventType>(type: T, fields: EventFields<T>) => EventOf<T>;

/** Builds events of one node: `make("client.disconnected", { clientId, reason: "keepalive-timeout" })`. */
export function createEventFactory(opts: EventFactoryOptions): MakeEvent {
  const now = opts.now ?? Date.now;
  const newId = opts.newId ?? newEventId;
  const node = opts.node;
  return <T extends EventType>(type: T, fields: EventFields<T>): EventOf<T> =>
    ({ v: EVENT_VERSION, id: newId(), type, ts: now(), node, ...fields }) as unknown as EventOf<T>;
}
