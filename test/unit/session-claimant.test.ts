import { describe, expect, it } from "vitest";
import type { Journal } from "../../broker/journal.js";
import { Session } from "../../broker/session.js";
import type { SessionClaimant, SessionHost } from "../../broker/session-ports.js";

/** Nothing of the host is used while a session is claimed and no message reaches it. */
const host = { journal: {} as Journal, clustered: false, now: () => 0, onDrop: () => {}, onDeliveryDenied: () => {}, forward: () => {}, onIdleStateMade: () => {} } satisfies SessionHost;

describe("Session claimant", () => {
  it("is the claiming connection, as the narrow interface its broker closes it through", () => {
    const session = new Session("c", true, { maxInflight: 10, maxQueued: 100, queueDropPolicy: "oldest" }, host);
    const closed: string[] = [];
    const conn: SessionClaimant = { isClosed: false, close: (reason) => void closed.push(reason) };
    session.beginClaim(conn, "id");
    const claimant = session.claimant;
    if (claimant !== null && !claimant.isClosed) claimant.close("takeover");
    expect(closed).toEqual(["takeover"]);
    session.endClaim();
    expect(session.claimant).toBeNull();
  });
});
