import type { IConnectPacket, IPublishPacket, QoS } from "mqtt-packet";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LocalRouter } from "../../broker/local-routing.js";
import { MEMO_MAX, RouteMemo } from "../../broker/route-memo.js";
import { Session } from "../../broker/session.js";
import type { SessionHost } from "../../broker/session-ports.js";
import { type Subscription, SubscriptionIndex } from "../../broker/subscription-index.js";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";
import { testLink } from "../helpers/session-link.js";

/**
 * Decision 057: a publisher's memo of what its last topic matched. Every test publishes the same topic again after
 * the subscriptions changed, which is where a memo that outlived its index version would deliver to the wrong set.
 */

const f = useBroker();
let seq = 0;

afterEach(() => {
  vi.restoreAllMocks();
});

function publish(c: RawClient, topic: string, payload: string, qos: QoS = 0, messageId?: number): void {
  c.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...(qos > 0 ? { messageId } : {}) });
}

/** The payloads (with their QoS) `c` receives up to the sentinel payload "end", acknowledging QoS 1. */
async function received(c: RawClient): Promise<string[]> {
  const got: string[] = [];
  for (;;) {
    const p = (await c.expect("publish")) as IPublishPacket;
    if (p.qos === 1) c.send({ cmd: "puback", messageId: p.messageId as number });
    const text = p.payload.toString();
    if (text === "end") return got;
    got.push(`${text}@${p.qos}`);
  }
}

/** A client (connected with `fields`) subscribed to `filter` at QoS 0, once its SUBACK is in. */
async function subscriber(filter: string, fields: Partial<IConnectPacket> = {}): Promise<RawClient> {
  const c = await f.raw(fields);
  await c.subscribe(filter, 0);
  return c;
}

/** Publishes `payloads` and the sentinel to `topic` from `pub`, in order. */
function publishAll(pub: RawClient, topic: string, payloads: string[]): void {
  for (const p of payloads) publish(pub, topic, p);
  publish(pub, topic, "end");
}

describe("route memo (decision 057)", () => {
  it("a subscription added after the first publish gets the next one to the same topic", async () => {
    const topic = `memo/${++seq}/up`;
    const a = await subscriber(`memo/${seq}/+`);
    const pub = await f.raw();
    publishAll(pub, topic, ["1", "2"]);
    expect(await received(a)).toEqual(["1@0", "2@0"]);

    const b = await subscriber(topic);
    publishAll(pub, topic, ["3"]);
    expect(await received(a)).toEqual(["3@0"]);
    expect(await received(b)).toEqual(["3@0"]);
  });

  it("an unsubscribed or replaced subscription is not replayed from the memo", async () => {
    const topic = `memo/${++seq}/up`;
    const a = await subscriber(topic);
    const b = await subscriber(topic);
    const pub = await f.raw();
    publishAll(pub, topic, ["1"]);
    expect(await received(a)).toEqual(["1@0"]);
    expect(await received(b)).toEqual(["1@0"]);

    await a.unsubscribe(topic);
    // b subscribes again at QoS 1: the same filter, a new value in the index.
    await b.subscribe(topic, 1);
    const sentinel = await subscriber(topic);
    publish(pub, topic, "2", 1, 7);
    publish(pub, topic, "end", 1, 8);
    expect(await received(b)).toEqual(["2@1"]);
    expect(await received(sentinel)).toEqual(["2@0"]);
    expect(await a.silentFor(100)).toBe(true);
  });

  it("a subscriber that comes back with a new clean session gets nothing its old subscription matched", async () => {
    const topic = `memo/${++seq}/up`;
    const gone = await subscriber(topic, { clientId: `memo-gone-${seq}`, clean: true });
    const stays = await subscriber(topic);
    const pub = await f.raw();
    publishAll(pub, topic, ["1"]);
    expect(await received(gone)).toEqual(["1@0"]);
    expect(await received(stays)).toEqual(["1@0"]);

    gone.send({ cmd: "disconnect" });
    await gone.waitClosed();
    const again = await f.raw({ clientId: `memo-gone-${seq}`, clean: true });
    publishAll(pub, topic, ["2"]);
    expect(await received(stays)).toEqual(["2@0"]);
    // The client id is back with a new clean session and no subscription: nothing may reach it.
    expect(await again.silentFor(100)).toBe(true);
  });

  it(`a topic matching more than ${MEMO_MAX} subscriptions reaches every one, every time`, async () => {
    const topic = `memo/${++seq}/fan`;
    const subs: RawClient[] = [];
    for (let i = 0; i < MEMO_MAX + 2; i++) {
      subs.push(await subscriber(i % 2 === 0 ? topic : `memo/${seq}/+`));
    }
    const pub = await f.raw();
    const walks = vi.spyOn(SubscriptionIndex.prototype, "match");
    publishAll(pub, topic, ["1", "2", "3"]);
    for (const c of subs) expect(await received(c)).toEqual(["1@0", "2@0", "3@0"]);
    // Three publishes and the sentinel: the memo did not stand in for any walk.
    expect(walks.mock.calls.filter(([t]) => t === topic)).toHaveLength(4);
  });

  it("a topic nobody subscribes to is remembered as matching nothing, until someone subscribes", async () => {
    const topic = `memo/${++seq}/none`;
    const pub = await f.raw();
    // At QoS 1, so that both are routed (PUBACK) before anyone subscribes.
    publish(pub, topic, "lost", 1, 1);
    await pub.expect("puback");
    publish(pub, topic, "lost", 1, 2);
    await pub.expect("puback");
    const late = await subscriber(topic);
    publishAll(pub, topic, ["seen"]);
    expect(await received(late)).toEqual(["seen@0"]);
  });

  it("walks the index once for repeated publishes to one topic, and again after a change", async () => {
    const topic = `memo/${++seq}/walks`;
    const a = await subscriber(topic);
    const pub = await f.raw();
    const walks = vi.spyOn(SubscriptionIndex.prototype, "match");
    publishAll(pub, topic, ["1", "2", "3"]);
    expect(await received(a)).toEqual(["1@0", "2@0", "3@0"]);
    expect(walks.mock.calls.filter(([t]) => t === topic)).toHaveLength(1);

    const b = await subscriber(`memo/${seq}/#`);
    publishAll(pub, topic, ["4", "5"]);
    expect(await received(b)).toEqual(["4@0", "5@0"]);
    expect(walks.mock.calls.filter(([t]) => t === topic)).toHaveLength(2);
  });
});

describe("RouteMemo", () => {
  const sub = (n: number) => ({ qos: n }) as unknown as Subscription;

  it("replays what it kept, in order, only for the topic and version it was filled at", () => {
    const m = new RouteMemo();
    expect(m.holds("a", 0)).toBe(false);
    m.begin("a", 3);
    for (let i = 0; i < 3; i++) m.keep(sub(i));
    expect(m.holds("a", 3)).toBe(true);
    expect(m.holds("a", 4)).toBe(false);
    expect(m.holds("b", 3)).toBe(false);
    const seen: Subscription[] = [];
    expect(m.replay((s) => seen.push(s))).toBe(true);
    expect(seen.map((s) => s.qos)).toEqual([0, 1, 2]);
  });

  it(`past ${MEMO_MAX} entries it keeps none and tells the caller to walk`, () => {
    const m = new RouteMemo();
    m.begin("a", 1);
    for (let i = 0; i <= MEMO_MAX + 2; i++) m.keep(sub(i));
    expect(m.holds("a", 1)).toBe(true);
    const seen: Subscription[] = [];
    expect(m.replay((s) => seen.push(s))).toBe(false);
    expect(seen).toEqual([]);
    // Filled again at another version, it remembers again.
    m.begin("a", 2);
    m.keep(sub(9));
    expect(m.replay((s) => seen.push(s))).toBe(true);
    expect(seen.map((s) => s.qos)).toEqual([9]);
  });

  it("a shorter refill does not replay entries of the longer one before it", () => {
    const m = new RouteMemo();
    m.begin("a", 1);
    for (let i = 0; i < 3; i++) m.keep(sub(i));
    m.begin("a", 2);
    m.keep(sub(7));
    const seen: Subscription[] = [];
    m.replay((s) => seen.push(s));
    expect(seen.map((s) => s.qos)).toEqual([7]);
  });
});

/** A session stand-in whose deliveries are recorded in `got`, by name. */
function fakeSession(name: string, got: string[]): Session {
  return { clientId: name, deliver: () => got.push(name) } as unknown as Session;
}

/** A QoS 0 subscription of `session`; with `refuses`, an authorization check that runs on every match. */
function fakeSub(session: Session, refuses?: () => boolean): Subscription {
  return { session, group: null, qos: 0, options: 0, id: 0, guard: refuses === undefined ? null : { refuses } } as unknown as Subscription;
}

/** A router over an index (version 1) whose walk of a topic visits `subsFor(topic)`; `walks` counts them. */
function routerOver(subsFor: (topic: string) => Subscription[]): { router: LocalRouter; walks: () => number } {
  let walks = 0;
  const index = {
    version: 1,
    match(topic: string, visit: (sub: Subscription) => void) {
      walks++;
      for (const sub of subsFor(topic)) visit(sub);
    },
  } as unknown as SubscriptionIndex;
  const router = new LocalRouter(index, { onDeliveryDenied: () => undefined, onDrop: () => undefined });
  return { router, walks: () => walks };
}

const message = (topic: string) => ({ topic, payload: Buffer.from("x"), qos: 0, retain: false }) as const;

describe("LocalRouter when a walk throws", () => {
  it("a walk cut short by a throw leaves nothing remembered: the next publish walks again and reaches everyone", () => {
    const got: string[] = [];
    const memo = new RouteMemo();
    const subA = fakeSub(fakeSession("a", got));
    let failNext = true;
    // A guard that throws once, after the walk visited subA.
    const subB = fakeSub(fakeSession("b", got), () => {
      if (failNext) {
        failNext = false;
        throw new Error("guard failed");
      }
      return false;
    });
    const { router, walks } = routerOver(() => [subA, subB]);
    router.swapPublisher({ routeMemo: () => memo } as unknown as Session);
    expect(() => router.route(message("t"), null, false, "deliver")).toThrow("guard failed");
    expect(memo.holds("t", 1)).toBe(false);
    got.length = 0;
    expect(router.route(message("t"), null, false, "deliver")).toBe(2);
    expect(got).toEqual(["a", "b"]);
    expect(walks()).toBe(2);
    // Now remembered: the third publish replays, without a walk.
    got.length = 0;
    expect(router.route(message("t"), null, false, "deliver")).toBe(2);
    expect(got).toEqual(["a", "b"]);
    expect(walks()).toBe(2);
  });

  it("leaves no target of the cut-short walk for the next publish, with or without a memo", () => {
    for (const withMemo of [false, true]) {
      const got: string[] = [];
      const subA = fakeSub(fakeSession("a", got));
      // Its authorization check fails (a backend error) after the walk has visited subA.
      const broken = fakeSub(fakeSession("x", got), () => {
        throw new Error("guard failed");
      });
      const subB = fakeSub(fakeSession("b", got));
      const { router } = routerOver((topic) => (topic === "both" ? [subA, broken] : [subB]));
      const memo = new RouteMemo();
      if (withMemo) router.swapPublisher({ routeMemo: () => memo } as unknown as Session);
      expect(() => router.route(message("both"), null, false, "deliver")).toThrow("guard failed");
      expect(got).toEqual([]);
      // Only subB matches this one: subA, collected before the throw, must not receive it.
      expect(router.route(message("b only"), null, false, "deliver")).toBe(1);
      expect(got).toEqual(["b"]);
    }
  });
});

describe("Session.routeMemo", () => {
  it("exists only while a client is attached: a will published for a gone client is walked, and nothing is kept", () => {
    const host = { onIdleStateMade: () => undefined } as unknown as SessionHost;
    const session = new Session("dev1", false, { maxInflight: 10, maxQueued: 100, queueDropPolicy: "oldest" }, host);
    expect(session.routeMemo()).toBeNull();
    session.attach(testLink());
    const memo = session.routeMemo();
    expect(memo).toBeInstanceOf(RouteMemo);
    expect(session.routeMemo()).toBe(memo);
    session.detach();
    expect(session.routeMemo()).toBeNull();
    session.attach(testLink());
    expect(session.routeMemo()).not.toBe(memo);
  });
});
