import type { QoS } from "mqtt-packet";
import { usePerTest } from "../../helpers/per-test.js";
import type { ClaimOptions, ClaimResult, Store, StoredMessage, StoreOp, StoreOpResult } from "../../../core/store/types.js";

export interface StoreHarness {
  store: Store;
  /** Closes the store and removes what the test wrote (FLUSHALL for Redis). */
  cleanup(): Promise<void>;
}

export type StoreFactory = () => Promise<StoreHarness>;

/** Gives each test a fresh, empty store. */
export interface Ctx {
  readonly store: Store;
}

export function useStore(create: StoreFactory): Ctx {
  const current = usePerTest(create, "store");
  return {
    get store(): Store {
      return current().store;
    },
  };
}

/** A fixed clock: every time in the suite is T0 + something. */
export const T0 = 1_700_000_000_000;

export function msg(topic: string, payload: Buffer | string = "x", qos: QoS = 1, retain = false): StoredMessage {
  return { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos, retain };
}

export function claim(store: Store, clientId: string, opts: Partial<ClaimOptions> = {}): Promise<ClaimResult> {
  return store.claimSession(clientId, { node: "node-a", clean: false, username: null, now: T0, ...opts });
}

export interface EnqueueOpts {
  qos?: 1 | 2;
  retain?: boolean;
  maxQueued?: number;
  dropPolicy?: "oldest" | "newest";
  /** Non-zero: stored directly as in flight. */
  packetId?: number;
  /** MQTT 5 Subscription Identifiers of the delivery. */
  subIds?: number[];
  /** An owner write, fenced by this epoch. */
  epoch?: number;
  /** Refused with "owned" while a node owns the session. */
  unowned?: boolean;
  /** With unowned: not refused while this node owns the session. */
  exceptOwner?: string;
  dedupId?: string;
  /** The time the dedup window counts from. */
  now?: number;
}

export function enqueueOp(clientId: string, m: StoredMessage, o: EnqueueOpts = {}): StoreOp {
  return {
    op: "enqueue",
    clientId,
    entry: { msg: m, qos: o.qos ?? 1, retain: o.retain ?? false, packetId: o.packetId ?? 0, ...(o.subIds !== undefined ? { subIds: o.subIds } : {}) },
    maxQueued: o.maxQueued ?? 1000,
    dropPolicy: o.dropPolicy ?? "oldest",
    ...(o.epoch !== undefined ? { epoch: o.epoch } : {}),
    ...(o.unowned !== undefined ? { unowned: o.unowned } : {}),
    ...(o.exceptOwner !== undefined ? { exceptOwner: o.exceptOwner } : {}),
    ...(o.dedupId !== undefined ? { dedupId: o.dedupId } : {}),
    ...(o.now !== undefined ? { now: o.now } : {}),
  };
}

export async function applyOne(store: Store, op: StoreOp): Promise<StoreOpResult> {
  const [r] = await store.apply([op]);
  if (r === undefined) throw new Error("apply returned no result");
  return r;
}

export async function enqueue(store: Store, clientId: string, m: StoredMessage, o: EnqueueOpts = {}): Promise<StoreOpResult> {
  return applyOne(store, enqueueOp(clientId, m, o));
}

/** Seqs of a session's outgoing messages, in stored order. */
export async function seqs(store: Store, clientId: string): Promise<number[]> {
  return ((await store.getSession(clientId))?.outgoing ?? []).map((o) => o.seq);
}

/** Orders strings by their UTF-8 bytes, as Redis does. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Walks every page of a paginated list. */
export async function allPages<T>(page: (cursor: string | null) => Promise<{ items: T[]; cursor: string | null }>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const p = await page(cursor);
    items.push(...p.items);
    cursor = p.cursor;
    pages++;
    if (pages > 1000) throw new Error("pagination does not end");
  } while (cursor !== null);
  return { items, pages };
}
