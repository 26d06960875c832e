import { afterEach, beforeEach } from "vitest";

/**
 * Creates a fresh harness before each test and cleans it up after; `get()` returns the current one. Serves the
 * contract suites (store, communicator), which all need exactly this.
 */
export function usePerTest<H extends { cleanup(): Promise<void> }>(create: () => Promise<H>, what: string): () => H {
  let harness: H | undefined;
  beforeEach(async () => {
    harness = await create();
  });
  afterEach(async () => {
    await harness?.cleanup();
    harness = undefined;
  });
  return () => {
    if (harness === undefined) throw new Error(`no ${what} outside a test`);
    return harness;
  };
}
