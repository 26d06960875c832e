import { describe, expect, it } from "vitest";
import { formatBrokerDrops, parseBrokerDrops, readBrokerDrops } from "../../bench/broker-drops.js";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const EXPOSITION = [
  "# HELP mqgate_messages_dropped_total Messages dropped, by reason",
  "# TYPE mqgate_messages_dropped_total counter",
  'mqgate_messages_dropped_total{reason="queue-full"} 652',
  'mqgate_messages_dropped_total{reason="slow-consumer"} 0',
  'mqgate_messages_dropped_total{node="n1",reason="expired"} 3',
  'mqgate_messages_dropped_totalx{reason="queue-full"} 9',
  'mqgate_events_dropped_total{reason="queue-full"} 7',
].join("\n");

describe("bench: the broker's drop counters", () => {
  it("keeps the non-zero reasons of mqgate_messages_dropped_total only", () => {
    expect(parseBrokerDrops(EXPOSITION)).toEqual({ "queue-full": 652, expired: 3 });
    expect(parseBrokerDrops("")).toEqual({});
  });

  it("formats the largest first, and nothing when nothing was dropped", () => {
    expect(formatBrokerDrops({ expired: 3, "queue-full": 652 })).toBe("queue-full 652, expired 3");
    expect(formatBrokerDrops({})).toBe("");
    expect(formatBrokerDrops(null)).toBe("");
  });

  it("reads them from a metrics endpoint, and answers null when it cannot", async () => {
    const server = createServer((req, res) => {
      if (req.url === "/metrics") res.end(EXPOSITION);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(await readBrokerDrops(port)).toEqual({ "queue-full": 652, expired: 3 });
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(await readBrokerDrops(port, 500)).toBeNull();
  });
});
