import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  compareUtf8, decodeApiKey, decodeCursor, decodeMessage, decodeNode, decodeOutgoing, encodeApiKey, encodeCursor, encodeMessage, encodeNode,
  encodeOutgoingBody,
} from "../../core/store/codec.js";
import { createStore, InvalidStoreInput, MemoryStore, StoreDataError } from "../../core/store/index.js";
import { retainedPrefix } from "../../core/store/match.js";
import { sentPacketId } from "../../core/store/sent-boundary.js";

describe("store codec", () => {
  it("messages round trip with exact bytes", () => {
    const m = { topic: "a/ü/🚀", payload: randomBytes(1000), qos: 2 as const, retain: true };
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
    expect(/^[\x20-\x7e]*$/.test(encodeMessage({ ...m, topic: "t" }))).toBe(true); // ASCII on the wire
  });

  it("the sent boundary's packet id of a seq: 1..65535, then again from 1 (never 0)", () => {
    expect([1, 2, 65_534, 65_535, 65_536, 65_537, 131_070, 131_071].map(sentPacketId)).toEqual([1, 2, 65_534, 65_535, 1, 2, 65_535, 1]);
    expect(sentPacketId(2 ** 52 + 1)).toBe(((2 ** 52) % 65_535) + 1);
  });

  it("outgoing values carry a rewritable <packetId>:<state>: header", () => {
    const body = encodeOutgoingBody({ msg: { topic: "t", payload: Buffer.from([0, 255]), qos: 2, retain: false }, qos: 1, retain: true });
    expect(decodeOutgoing(7, `513:1:${body}`)).toEqual({
      seq: 7, msg: { topic: "t", payload: Buffer.from([0, 255]), qos: 2, retain: false }, qos: 1, retain: true, packetId: 513, state: 1,
    });
    expect(() => decodeOutgoing(1, "garbage")).toThrow(/outgoing/);
  });

  it("outgoing bodies are compact (no JSON), round trip any topic and payload, and refuse damaged values", () => {
    for (const topic of ["", "t", "a:b/ü/🚀", "1:2:3", "{x}"]) {
      for (const [qos, retain, dq, dr] of [[0, false, 1, false], [1, true, 2, true], [2, false, 2, false]] as const) {
        const msg = { topic, payload: randomBytes(topic.length * 7), qos, retain };
        const body = encodeOutgoingBody({ msg, qos: dq, retain: dr });
        expect(body.startsWith("{")).toBe(false);
        expect(decodeOutgoing(3, `0:0:${body}`)).toEqual({ seq: 3, msg, qos: dq, retain: dr, packetId: 0, state: 0 });
      }
    }
    const body = encodeOutgoingBody({ msg: { topic: "sensors/1/temp", payload: Buffer.alloc(64, 7), qos: 1, retain: false }, qos: 1, retain: false });
    expect(body.length).toBeLessThan(120);
    for (const bad of ["0:0:1010", "0:0:3010t:", "0:0:10109:abc", "0:0:1x101:ab", "0:0:1010-1:a"]) expect(() => decodeOutgoing(1, bad)).toThrow(/outgoing/);
  });

  it("outgoing values written before the compact encoding (JSON bodies) still decode", () => {
    const legacy = `5:1:${JSON.stringify({ t: "a/b", p: Buffer.from([1, 2, 255]).toString("base64"), q: 2, r: 1, dq: 1, dr: 0 })}`;
    expect(decodeOutgoing(9, legacy)).toEqual({
      seq: 9, msg: { topic: "a/b", payload: Buffer.from([1, 2, 255]), qos: 2, retain: true }, qos: 1, retain: false, packetId: 5, state: 1,
    });
  });

  it("MQTT 5: props, publishedAt and subIds ride in an optional part that bodies without them lack (decision 024)", () => {
    const props = { payloadFormatIndicator: 1, messageExpiryInterval: 60, contentType: "a|b", responseTopic: "r/|", correlationData: Buffer.from([0, 124, 255]), userProperties: [["k", "|"], ["k", "{"]] as [string, string][] };
    for (const topic of ["t", "a|b", "|", ""]) {
      const msg = { topic, payload: Buffer.from([124, 0, 255]), qos: 2 as const, retain: true, props, publishedAt: 7 };
      const plain = encodeOutgoingBody({ msg: { topic, payload: msg.payload, qos: 2, retain: true }, qos: 1, retain: false });
      const body = encodeOutgoingBody({ msg, qos: 1, retain: false, subIds: [1, 268_435_455] });
      expect(body.startsWith(`${plain}|`)).toBe(true);
      expect(decodeOutgoing(1, `0:0:${body}`)).toEqual({ seq: 1, msg, qos: 1, retain: false, packetId: 0, state: 0, subIds: [1, 268_435_455] });
      expect(decodeOutgoing(1, `0:0:${encodeOutgoingBody({ msg: { ...msg, props: undefined }, qos: 1, retain: false })}`).msg).toEqual({ ...msg, props: undefined });
      expect(decodeMessage(encodeMessage(msg))).toEqual(msg);
    }
    for (const suffix of ["|{bad", "|[]", '|{"s":[0]}', '|{"s":"1"}', '|{"s":[268435456]}', '|{"s":[1.5]}', `|{"s":[${Array.from({ length: 33 }, (_, i) => i + 1).join(",")}]}`, '|{"x":{"pfi":3}}', '|{"x":[]}', '|{"t":-1}']) {
      expect(() => decodeOutgoing(1, `0:0:10101:tAA==${suffix}`), suffix).toThrow(StoreDataError);
    }
    expect(() => decodeMessage('{"t":"a","p":"","q":0,"r":0,"x":{"up":[["k"]]}}')).toThrow(StoreDataError);
    expect(() => decodeMessage('{"t":"a","p":"","q":0,"r":0,"pa":"1"}')).toThrow(StoreDataError);
  });

  it("nodes and API keys round trip", () => {
    const node = { nodeId: "n1", address: "10.0.0.1:1883", queueUrl: null, startedAt: 5, heartbeatAt: 9 };
    expect(decodeNode(encodeNode(node, 15000))).toEqual({ node, ttlMs: 15000 });
    const key = { id: "k", hash: "ab".repeat(32), name: "n", scopes: ["read" as const], topics: ["#"], createdAt: 1 };
    expect(encodeApiKey(key).startsWith(`${key.hash} `)).toBe(true);
    expect(decodeApiKey(encodeApiKey(key))).toEqual(key);
  });

  it("cursors round trip any text, are URL-safe and refuse garbage", () => {
    for (const k of ["", "a", "client/ü/🚀", "c1.x", "a+b/c=="]) {
      const c = encodeCursor(k);
      expect(/^[A-Za-z0-9._-]+$/.test(c)).toBe(true);
      expect(decodeCursor(c)).toBe(k);
    }
    expect(decodeCursor(null)).toBeNull();
    expect(decodeCursor(undefined)).toBeNull();
    expect(() => decodeCursor("zzz")).toThrow(InvalidStoreInput);
    expect(() => decodeCursor("c1.a/b")).toThrow(InvalidStoreInput);
  });

  it("compareUtf8 orders like Redis (UTF-8 bytes), unlike plain string comparison", () => {
    const a = "\uffff";
    const b = "\u{10000}";
    expect(a < b).toBe(false); // UTF-16 code units: 0xFFFF > 0xD800
    expect(compareUtf8(a, b)).toBeLessThan(0);
    const samples = ["", "a", "ab", "b", "\u007f", "\u0080", "é", "\ud7ff", "\ue000", "\uffff", "\u{10000}", "\u{1f680}", "a\u{10000}", "a\uffff"];
    const randomCodePoint = (): number => {
      const cp = Math.floor(Math.random() * 0x110000);
      return cp >= 0xd800 && cp <= 0xdfff ? cp - 0x800 : cp; // no surrogates
    };
    for (let i = 0; i < 500; i++) samples.push(String.fromCodePoint(...Array.from({ length: 3 }, randomCodePoint)));
    const bytes = (s: string): Buffer => Buffer.from(s, "utf8");
    const sorted = [...samples].sort(compareUtf8);
    expect(sorted).toEqual([...samples].sort((x, y) => Buffer.compare(bytes(x), bytes(y))));
  });

  it("retainedPrefix: the literal start every matching topic shares", () => {
    expect(retainedPrefix("a/b")).toBeNull();
    expect(retainedPrefix("#")).toBe("");
    expect(retainedPrefix("+/x")).toBe("");
    expect(retainedPrefix("a/#")).toBe("a");
    expect(retainedPrefix("a/b/+/c")).toBe("a/b/");
    expect(retainedPrefix("/+")).toBe("/");
    expect(retainedPrefix("$SYS/#")).toBe("$SYS");
  });

  it("createStore: memory when nothing is configured; refuses both Redis and Upstash", async () => {
    const store = await createStore({});
    expect(store).toBeInstanceOf(MemoryStore);
    expect(store.kind).toBe("memory");
    await expect(createStore({ redisUrl: "redis://127.0.0.1:1", upstash: { url: "https://x.example", token: "t" } })).rejects.toThrow(/either/);
  });
});
