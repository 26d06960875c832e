import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, expect, it, vi } from "vitest";
import { attachLogging } from "../../broker/logging.js";
import { startTestBroker } from "../helpers/broker.js";

// A listener whose accepts fail (decision 053: out of file descriptors, say) fails them all at once: the log gets
// one line per 10 s with the count since the last line, not one line per failed accept.

afterEach(() => {
  vi.useRealTimers();
});

it("accept failures are logged at most once per 10 s, each line with the failures since the last", async () => {
  const b = await startTestBroker();
  try {
    const lines: { msg: string; failures: number; err: string; transport: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split("\n")) if (l !== "") lines.push(JSON.parse(l));
        done();
      },
    });
    attachLogging(b.broker, pino({ level: "warn" }, sink));
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_000_000);
    const emfile = Object.assign(new Error("accept EMFILE"), { code: "EMFILE" });
    for (let i = 0; i < 500; i++) b.broker.onAcceptFailed("tcp", emfile);
    vi.setSystemTime(1_009_000);
    for (let i = 0; i < 20; i++) b.broker.onAcceptFailed("tcp", emfile);
    vi.setSystemTime(1_010_001);
    b.broker.onAcceptFailed("tcp", emfile);
    await new Promise((r) => setImmediate(r));
    const accepts = lines.filter((l) => l.msg.startsWith("accept failed"));
    expect(accepts.map((l) => [l.transport, l.err, l.failures])).toEqual([
      ["tcp", "accept EMFILE", 1],
      ["tcp", "accept EMFILE", 520],
    ]);
  } finally {
    await b.close();
  }
});
