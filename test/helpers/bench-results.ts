import type { TargetId } from "../../bench/targets.js";
import type { MeasurementResult } from "../../bench/types.js";

/**
 * A fleet measurement as the load generator reports it (2,000 devices × 5 msg/s, 50,000 messages, RSS idle 100 MiB),
 * for the report tests: broker CPU per message, p99 and worst latency (µs) and KiB per device as given; GC for the
 * Node.js targets only.
 */
export function fleetResult(target: TargetId, cpu: number, p99Us: number, maxUs: number, kib: number): MeasurementResult {
  const devices = 2000;
  return {
    ok: true,
    error: null,
    elapsedMs: 5000,
    published: 50_000,
    delivered: 50_000,
    deliveredPerSec: 10_000,
    broker: { name: "broker", cpuMs: 1, rssBeforeBytes: 100 * 2 ** 20, rssAfterBytes: 100 * 2 ** 20 + kib * 1024 * devices },
    side: [],
    cpuUsPerMsg: cpu,
    sideCpuUsPerMsg: Number.NaN,
    loadgenCpuPct: 60,
    backgroundCores: 0,
    delivery: { expected: 60_000, received: 60_000, lost: 0, duplicates: 0, reordered: 0, unexpected: 0, badPairs: [] },
    latency: { count: 50_000, p50: 500, p90: 900, p99: p99Us, p999: p99Us, max: maxUs, mean: 600 },
    idle: null,
    gc: target === "mosquitto" ? null : { count: 12, minor: 11, totalMs: 30, maxMs: 6 },
    fleet: {
      devices,
      ratePerDevice: 5,
      offeredPerSec: 10_000,
      connectMs: 900,
      rssIdleBytes: 100 * 2 ** 20,
      rssConnectedBytes: 120 * 2 ** 20,
      rssPerDeviceBytes: kib * 1024,
      sendLagP99Ms: 1,
      sendLagMaxMs: 3,
    },
  };
}
