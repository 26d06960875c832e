import { generate, parser as createParser, type Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { parseIoCalls, parseProcStat, parseStatTimes, parseStatusRss } from "../../bench/proc.js";
import { selfTimes } from "../../bench/profile.js";
import { FrameReader, PAYLOAD_HEADER, PublishTemplate, readStamp, varintLength, viewPublish, writeAck, writeStamp } from "../../bench/wire.js";

function parseAll(buf: Buffer): Packet[] {
  const out: Packet[] = [];
  const p = createParser({ protocolVersion: 4 });
  p.on("packet", (packet: Packet) => out.push(packet));
  p.on("error", (err: Error) => {
    throw err;
  });
  p.parse(buf);
  return out;
}

describe("PublishTemplate", () => {
  for (const qos of [0, 1, 2] as const) {
    it(`encodes a PUBLISH mqtt-packet parses (QoS ${qos})`, () => {
      const tpl = new PublishTemplate("bench/in/3", qos, 64);
      const out = Buffer.alloc(tpl.size * 2);
      let o = tpl.write(out, 0, 7, 3, 41, 1234.5);
      o = tpl.write(out, o, 8, 3, 42, 1235.25);
      expect(o).toBe(out.length);
      const packets = parseAll(out);
      expect(packets).toHaveLength(2);
      const [a, b] = packets as [Packet, Packet];
      expect(a).toMatchObject({ cmd: "publish", topic: "bench/in/3", qos, dup: false, retain: false });
      if (a.cmd !== "publish" || b.cmd !== "publish") throw new Error("not a publish");
      expect(a.messageId).toBe(qos > 0 ? 7 : undefined);
      expect(b.messageId).toBe(qos > 0 ? 8 : undefined);
      const payload = a.payload as Buffer;
      expect(payload.length).toBe(64);
      expect(readStamp(payload, 0, payload.length)).toEqual({ publisher: 3, seq: 41, sentAt: 1234.5 });
      expect(readStamp(b.payload as Buffer, 0, 64)).toEqual({ publisher: 3, seq: 42, sentAt: 1235.25 });
    });
  }

  it("handles a remaining length over 127 bytes", () => {
    const tpl = new PublishTemplate("t", 1, 300);
    const out = Buffer.alloc(tpl.size);
    tpl.write(out, 0, 65_535, 0, 4_000_000_000, 0);
    const [p] = parseAll(out);
    if (p?.cmd !== "publish") throw new Error("not a publish");
    expect((p.payload as Buffer).length).toBe(300);
    expect(p.messageId).toBe(65_535);
    expect(readStamp(p.payload as Buffer, 0, 300)?.seq).toBe(4_000_000_000);
  });

  it("refuses a payload too small for the stamp", () => {
    expect(() => new PublishTemplate("t", 0, PAYLOAD_HEADER - 1)).toThrow(RangeError);
  });
});

describe("stamps", () => {
  it("round-trip and reject foreign payloads", () => {
    const b = Buffer.alloc(PAYLOAD_HEADER + 4);
    writeStamp(b, 2, 65_535, 12345, 0.125);
    expect(readStamp(b, 2, PAYLOAD_HEADER)).toEqual({ publisher: 65_535, seq: 12345, sentAt: 0.125 });
    expect(readStamp(b, 0, PAYLOAD_HEADER)).toBeNull();
    expect(readStamp(Buffer.from("hello world, not a stamp"), 0, 24)).toBeNull();
    expect(readStamp(b, 2, PAYLOAD_HEADER - 1)).toBeNull();
  });
});

describe("writeAck", () => {
  it("matches mqtt-packet's encoding of PUBACK, PUBREC, PUBREL and PUBCOMP", () => {
    const cases = [
      [4, "puback"],
      [5, "pubrec"],
      [6, "pubrel"],
      [7, "pubcomp"],
    ] as const;
    for (const [type, cmd] of cases) {
      const out = Buffer.alloc(4);
      writeAck(out, 0, type, 513);
      expect(out).toEqual(generate({ cmd, messageId: 513 } as Packet));
    }
  });
});

describe("varintLength", () => {
  it("gives the MQTT remaining-length sizes", () => {
    expect(varintLength(0)).toBe(1);
    expect(varintLength(127)).toBe(1);
    expect(varintLength(128)).toBe(2);
    expect(varintLength(16_383)).toBe(2);
    expect(varintLength(16_384)).toBe(3);
    expect(varintLength(268_435_455)).toBe(4);
    expect(() => varintLength(268_435_456)).toThrow(RangeError);
  });
});

describe("FrameReader", () => {
  const stream = Buffer.concat([
    generate({ cmd: "connack", returnCode: 0, sessionPresent: false }),
    generate({ cmd: "suback", messageId: 1, granted: [1] }),
    generate({ cmd: "publish", topic: "bench/x", payload: Buffer.alloc(200, 1), qos: 1, messageId: 9, dup: false, retain: false }),
    generate({ cmd: "pubrel", messageId: 10 }),
    generate({ cmd: "publish", topic: "a", payload: Buffer.alloc(0), qos: 0, dup: false, retain: false }),
  ]);

  function frames(chunks: Buffer[]): { type: number; len: number }[] {
    const seen: { type: number; len: number }[] = [];
    const r = new FrameReader((first, _buf, start, end) => seen.push({ type: first >> 4, len: end - start }));
    for (const c of chunks) r.push(c);
    expect(r.buffered).toBe(0);
    return seen;
  }

  const expected = [
    { type: 2, len: 2 },
    { type: 9, len: 3 },
    { type: 3, len: 2 + 7 + 2 + 200 },
    { type: 6, len: 2 },
    { type: 3, len: 3 },
  ];

  it("splits one chunk into frames", () => {
    expect(frames([stream])).toEqual(expected);
  });

  it("reassembles frames split at every byte", () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
    expect(frames(chunks)).toEqual(expected);
  });

  it("reassembles frames split at arbitrary points", () => {
    for (let cut = 1; cut < stream.length; cut += 7) {
      expect(frames([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(expected);
    }
  });

  it("keeps an incomplete frame until the rest arrives", () => {
    const r = new FrameReader(() => {});
    r.push(stream.subarray(0, 10));
    expect(r.buffered).toBeGreaterThan(0);
  });

  it("throws on a remaining length longer than 4 bytes", () => {
    const r = new FrameReader(() => {});
    expect(() => r.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(/remaining length/);
  });

  it("viewPublish finds the topic, packet id and payload", () => {
    const pkt = generate({ cmd: "publish", topic: "bench/x", payload: Buffer.from("hello"), qos: 2, messageId: 300, dup: false, retain: false });
    let view = null as ReturnType<typeof viewPublish> | null;
    new FrameReader((first, buf, start, end) => {
      view = viewPublish(first, buf, start, end, { qos: 0, topicStart: 0, topicEnd: 0, packetId: 0, payloadStart: 0, payloadEnd: 0 });
      expect(buf.toString("utf8", view.topicStart, view.topicEnd)).toBe("bench/x");
      expect(buf.toString("utf8", view.payloadStart, view.payloadEnd)).toBe("hello");
    }).push(pkt);
    expect(view).toMatchObject({ qos: 2, packetId: 300 });
  });
});

describe("/proc parsing", () => {
  it("reads utime and stime after a command name with spaces and parentheses", () => {
    const stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 3 0 100 1000000 2000 18446744073709551615";
    expect(parseStatTimes(stat)).toEqual({ user: 250, system: 75 });
  });

  it("reads VmRSS in bytes", () => {
    expect(parseStatusRss("Name:\tnode\nVmPeak:\t  100 kB\nVmRSS:\t   51200 kB\nThreads: 7\n")).toBe(51200 * 1024);
    expect(() => parseStatusRss("Name: x\n")).toThrow();
  });

  it("reads the read and write system call counts of /proc/<pid>/io, NaN for a missing one", () => {
    const io = "rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 3\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";
    expect(parseIoCalls(io)).toEqual({ syscr: 10, syscw: 3 });
    expect(parseIoCalls("rchar: 1\n").syscr).toBeNaN();
  });

  it("reads the machine's busy and total time from /proc/stat", () => {
    const m = parseProcStat("cpu  100 10 50 800 40 5 5 0 0 0\ncpu0 50 5 25 400 20 2 3 0 0 0\n");
    // busy = user + nice + system + irq + softirq + steal; total adds idle and iowait (ticks of 10 ms at CLK_TCK 100).
    expect(m.busyMs / m.totalMs).toBeCloseTo(170 / 1010, 10);
    expect(() => parseProcStat("intr 1 2 3\n")).toThrow();
  });
});

describe("selfTimes", () => {
  it("adds the time of each sample to its function and merges the same function", () => {
    const frame = (functionName: string, line: number) => ({ functionName, url: "file:///r/dist/broker.mjs", lineNumber: line, columnNumber: 0 });
    const profile = {
      startTime: 0,
      endTime: 100,
      nodes: [
        { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1, columnNumber: -1 } },
        { id: 2, callFrame: frame("route", 10) },
        { id: 3, callFrame: frame("route", 10) },
        { id: 4, callFrame: frame("parse", 20) },
        { id: 5, callFrame: { functionName: "(idle)", url: "", lineNumber: -1, columnNumber: -1 } },
      ],
      samples: [2, 3, 4, 5, 2],
      timeDeltas: [0, 10, 20, 30, 40],
    };
    const { rows, totalMs, idleMs } = selfTimes(profile, "/r");
    // Sample i gets timeDeltas[i + 1]: route 10 + 20, parse 30, idle 40, last sample 0.
    expect(totalMs).toBeCloseTo(0.1, 10);
    expect(idleMs).toBeCloseTo(0.04, 10);
    expect(rows[0]?.name).toBe("(idle)");
    const route = rows.find((r) => r.name === "route");
    expect(route?.selfMs).toBeCloseTo(0.03, 10);
    expect(route?.location).toBe("dist/broker.mjs:11");
    expect(route?.busyPct).toBeCloseTo(50, 10);
  });
});
