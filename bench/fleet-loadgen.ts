/**
 * The fleet scenario's load generator (issue 17): many devices on raw sockets, each publishing QoS 1 at a fixed
 * rate to its own topic from a random phase, one packet per write, every acknowledgement written by itself; one
 * backend subscriber on `fleet/+/up`. The offered load is fixed (open loop): a slow broker makes latency grow,
 * not the load shrink. Pure parts (schedule, sizes, GC log) are in bench/fleet.ts.
 */
import { readFileSync } from "node:fs";
import { DeliveryAccounting, summarizeLatencies } from "./accounting.js";
import { BenchClient } from "./client.js";
import { FleetSchedule, fleetSizing, summarizeGcLog } from "./fleet.js";
import { warmMessagePath } from "./fleet-warm.js";
import { closeAll, CONNECT_TIMEOUT_MS, finishResult, Meter, type Measured, phaseError, sleep, watchPhase } from "./measure.js";
import { rssFileOf, sampleProc } from "./proc.js";
import { StealWatch, worstAwayFromSteal } from "./steal.js";
import { failedMeasurement, type FleetOutcome, type FleetSpec, type GcSummary, type MeasurementResult } from "./types.js";
import { PublishTemplate } from "./wire.js";

const BACKEND_FILTER = "fleet/+/up";

/** Epoch ms on this process's clock (comparable with the broker's GC log, which is written the same way). */
function epochMs(t: number): number {
  return performance.timeOrigin + t;
}

/** GC pauses of the broker within [fromMs, toMs] (epoch), or null when it keeps no log or the log is unreadable. */
function readGc(path: string | null, fromMs: number, toMs: number): GcSummary | null {
  if (path === null) return null;
  try {
    return summarizeGcLog(readFileSync(path, "utf8"), fromMs, toMs);
  } catch {
    return null;
  }
}

export async function runFleet(spec: FleetSpec): Promise<MeasurementResult> {
  const size = fleetSizing(spec.devices, spec.ratePerDevice, spec.warmupMs, spec.durationMs);
  const acc = new DeliveryAccounting(spec.devices, 1, size.perDeviceCapacity);
  const base = { host: spec.host, port: spec.port, timeoutMs: CONNECT_TIMEOUT_MS, ackPerPacket: true, protocol: spec.protocol };
  const devices: (BenchClient | null)[] = new Array<BenchClient | null>(spec.devices).fill(null);
  const templates: PublishTemplate[] = [];
  const sent = new Uint32Array(spec.devices);
  let sentTotal = 0;
  let completed = 0;
  let arrivals = 0;
  let distinct = 0;
  let closed: string | null = null;
  let phase: { poke: () => void } | null = null;
  // Latencies of the messages written within the measured interval, µs.
  const latencies = new Float64Array(size.measuredCapacity);
  // When each of them was written (ms, performance.now()), to tell which flights a steal window met (bench/steal.ts).
  const sentAts = new Float64Array(size.measuredCapacity);
  let nLatencies = 0;
  let measureFrom = Number.POSITIVE_INFINITY;
  let measureTo = Number.POSITIVE_INFINITY;
  const lags = new Float64Array(size.measuredCapacity);
  let nLags = 0;

  // Warm the broker's connection path (as the idle scenario does), then let it settle before its cold RSS.
  const warm: BenchClient[] = [];
  let backend: BenchClient;
  try {
    for (let i = 0; i < 20; i++) warm.push(await BenchClient.open({ ...base, keepalive: spec.keepalive, clientId: `fleet-warm-${i}`, clean: true }));
    await closeAll(warm);
    backend = await BenchClient.open({ ...base, keepalive: 0, clientId: "fleet-backend", clean: true });
    backend.onClose = (err) => {
      if (err !== null) closed ??= `backend: ${err.message}`;
    };
    const granted = await backend.subscribe(BACKEND_FILTER, 1);
    if (granted !== 1) throw new Error(`backend: granted QoS ${granted}, asked 1`);
  } catch (err) {
    for (const c of warm) c.destroy();
    return failedMeasurement(`setup: ${(err as Error).message}`);
  }
  backend.onMessage = (device, seq, sentAt, receivedAt) => {
    arrivals++;
    const v = acc.record(device, 0, seq);
    if (v === "ok" || v === "reordered") {
      distinct++;
      if (sentAt >= measureFrom && sentAt < measureTo && nLatencies < latencies.length) {
        sentAts[nLatencies] = sentAt;
        latencies[nLatencies++] = (receivedAt - sentAt) * 1000;
      }
    }
    phase?.poke();
  };
  await sleep(spec.settleMs);
  const rssColdBytes = sampleProc(spec.brokerPid).rssBytes;
  const rssFileColdBytes = rssFileOf(spec.brokerPid);
  // Then the message path (bench/fleet-warm.ts, decision 061): what the broker pays once goes into the baseline.
  try {
    await warmMessagePath(base, spec.keepalive, spec.payloadSize);
  } catch (err) {
    await closeAll([backend]);
    return failedMeasurement(`setup: ${(err as Error).message}`);
  }
  await sleep(spec.settleMs);
  const rssIdleBytes = sampleProc(spec.brokerPid).rssBytes;
  const rssFileIdleBytes = rssFileOf(spec.brokerPid);

  // Connect and subscribe every device, `concurrency` at a time.
  let next = 0;
  let failed: string | null = null;
  const t0 = performance.now();
  const worker = async () => {
    while (next < spec.devices && failed === null) {
      const d = next++;
      try {
        const c = await BenchClient.open({ ...base, keepalive: spec.keepalive, clientId: `fleet-${d}`, clean: true });
        devices[d] = c;
        c.onClose = (err) => {
          if (err !== null) closed ??= `device ${d}: ${err.message}`;
        };
        c.onComplete = () => {
          completed++;
          phase?.poke();
        };
        const granted = await c.subscribe(`fleet/${d}/cmd`, 1);
        if (granted !== 1) throw new Error(`granted QoS ${granted} on its command topic, asked 1`);
        templates[d] = new PublishTemplate(`fleet/${d}/up`, 1, spec.payloadSize, spec.protocol);
      } catch (err) {
        failed ??= `device ${d}: ${(err as Error).message}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.devices) }, worker));
  const connectMs = performance.now() - t0;
  if (failed !== null || closed !== null) {
    await closeAll([backend, ...devices.filter((c): c is BenchClient => c !== null)]);
    return failedMeasurement(`connect: ${failed ?? closed ?? ""}`);
  }
  await sleep(spec.settleMs);
  const rssConnectedBytes = sampleProc(spec.brokerPid).rssBytes;

  // The offered load: one timer walks the schedule; every publish is its own write, stamped when written.
  const schedule = new FleetSchedule(spec.devices, spec.ratePerDevice);
  const meter = new Meter(spec);
  const steal = new StealWatch();
  const endMs = size.warmupMs + size.durationMs;
  let sending = true;
  let arrivals0 = 0;
  let sent0 = 0;
  let started = false;
  const start = performance.now();
  let timer: NodeJS.Timeout | null = null;
  const send = (d: number, seq: number, dueAt: number) => {
    const c = devices[d] as BenchClient;
    const tpl = templates[d] as PublishTemplate;
    const buf = Buffer.allocUnsafe(tpl.size);
    const now = performance.now();
    tpl.write(buf, 0, (seq % 65_535) + 1, d, seq, now);
    c.write(buf);
    sent[d] = seq + 1;
    sentTotal++;
    if (started && nLags < lags.length) lags[nLags++] = now - start - dueAt;
  };
  const tick = () => {
    timer = null;
    const now = performance.now() - start;
    if (!started && now >= size.warmupMs) {
      started = true;
      arrivals0 = arrivals;
      sent0 = sentTotal;
      measureFrom = performance.now();
      meter.start();
      steal.start();
    }
    sending = schedule.due(now, endMs, send);
    if (sending) timer = setTimeout(tick, Math.max(1, Math.min(50, schedule.nextAt() - now)));
    else if (measureTo === Number.POSITIVE_INFINITY) measureTo = performance.now();
    phase?.poke();
  };
  // Done when the schedule is over and every publish has reached the backend and been acknowledged.
  const isDone = () => !sending && distinct >= sentTotal && completed >= sentTotal;
  const w = watchPhase(isDone, () => arrivals + completed + sentTotal, () => closed, spec.stallMs, spec.timeoutMs);
  phase = w;
  tick();
  const end = await w.promise;
  phase = null;
  if (timer !== null) clearTimeout(timer);
  if (measureTo === Number.POSITIVE_INFINITY) measureTo = performance.now();

  let error = phaseError(end, `fleet (received ${distinct} of ${sentTotal})`, closed);
  let measured: Measured | null = null;
  let rssFileEndBytes = Number.NaN;
  let gc: GcSummary | null = null;
  if (started) {
    const stopAt = performance.now();
    steal.stop();
    measured = await meter.stop();
    rssFileEndBytes = rssFileOf(spec.brokerPid);
    gc = readGc(spec.gcLog, epochMs(measureFrom), epochMs(stopAt));
  } else error ??= "the measured interval never started";
  const delivered = arrivals - arrivals0;
  const published = sentTotal - sent0;
  await sleep(100);
  const delivery = acc.summarize(Array.from(sent));
  await closeAll([backend, ...devices.filter((c): c is BenchClient => c !== null)]);

  const rssEnd = measured?.broker.rssAfterBytes ?? Number.NaN;
  const away = worstAwayFromSteal(sentAts, latencies, nLatencies, steal.windows);
  const lagSummary = nLags > 0 ? summarizeLatencies(lags.subarray(0, nLags)) : null;
  const fleet: FleetOutcome = {
    devices: spec.devices,
    ratePerDevice: spec.ratePerDevice,
    offeredPerSec: spec.devices * spec.ratePerDevice,
    connectMs,
    rssColdBytes,
    rssFileColdBytes,
    rssIdleBytes,
    rssConnectedBytes,
    rssPerDeviceBytes: (rssEnd - rssIdleBytes) / spec.devices,
    rssFileIdleBytes,
    rssFileEndBytes,
    sendLagP99Ms: lagSummary?.p99 ?? Number.NaN,
    sendLagMaxMs: lagSummary?.max ?? Number.NaN,
    stealMs: steal.totalMs,
    stealWindows: steal.windows.length,
    maxAwayFromStealMs: steal.available ? away.maxMs : Number.NaN,
    awayFromStealShare: steal.available && nLatencies > 0 ? away.clear / nLatencies : Number.NaN,
  };
  const latency = nLatencies > 0 ? summarizeLatencies(latencies.subarray(0, nLatencies)) : null;
  return { ...finishResult(error, measured, published, delivered, delivery, latency, null), gc, fleet };
}
