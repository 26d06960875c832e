import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: "forks",
    // At least two test files at once, also on 2 cores (vitest's default there is one): the cluster tests with real
    // processes spend most of their time waiting for leases and timers, not on the CPU. On the 2-core CI machine the
    // suite took 484 s with two against 883 s with one (2026-12-06, Node 20, same commit).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ["default"],
  },
});
