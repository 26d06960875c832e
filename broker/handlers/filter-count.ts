import type { Connection } from "../connection.js";
import { LimitExceeded } from "../errors.js";

/**
 * `limits.maxFiltersPerPacket`: a SUBSCRIBE or UNSUBSCRIBE with more topic filters is not handled at all; the
 * connection is closed (decision 009: 3.1.1 UNSUBACK has no failure code, and a client over a limit this large is
 * broken or hostile). Counted in `mqgate_limit_hits_total{limit="filters-per-packet"}`.
 */
export function checkFilterCount(conn: Connection, count: number, packet: "SUBSCRIBE" | "UNSUBSCRIBE"): void {
  const max = conn.broker.config.limits.maxFiltersPerPacket;
  if (count <= max) return;
  conn.broker.stats.limitHits["filters-per-packet"]++;
  throw new LimitExceeded("filters-per-packet", `${packet} with ${count} topic filters (limits.maxFiltersPerPacket is ${max})`);
}
