import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, PORT_RANGE } from "../../scripts/lib/ports.js";

describe("freePort", () => {
  it("hands out distinct, bindable ports below the kernel's ephemeral range, never a standard one", async () => {
    const ports: number[] = [];
    for (let i = 0; i < 40; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(PORT_RANGE.low);
      expect(port).toBeLessThan(PORT_RANGE.high);
      // Below Linux's default ephemeral range, where outgoing connections take their ports.
      expect(port).toBeLessThan(32_768);
      expect([1883, 6379, 8080, 8083, 8883]).not.toContain(port);
    }
    const srv = createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(ports[0], "127.0.0.1", resolve);
    });
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  });

  it("draws from this worker's own slice, so two test files rarely pick the same port", async () => {
    const id = Number(process.env["VITEST_POOL_ID"]);
    expect(id).toBeGreaterThanOrEqual(1);
    const size = Math.floor((PORT_RANGE.high - PORT_RANGE.low) / 4);
    const from = PORT_RANGE.low + ((id - 1) % 4) * size;
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(from);
      expect(port).toBeLessThan(from + size);
    }
  });
});
