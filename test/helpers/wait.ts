import type { TestBroker } from "./broker.js";

/** Polls `check` every 10 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Whether `node`'s route table (decision 017) names node `to` for `topic`. */
export function routesTo(node: TestBroker, topic: string, to: string): boolean {
  let found = false;
  node.broker.cluster?.routes.table.match(topic, (n) => (found ||= n === to));
  return found;
}

/** Whether `node`'s route table names node `to` as having members of shared subscription group `key` for `topic`. */
export function sharedRoutesTo(node: TestBroker, topic: string, key: string, to: string): boolean {
  let found = false;
  node.broker.cluster?.routes.table.matchShared(topic, (r) => (found ||= r.node === to && r.key === key));
  return found;
}
