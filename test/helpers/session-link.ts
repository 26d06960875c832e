import type { SessionLink } from "../../broker/session-ports.js";

/**
 * A SessionLink for tests of a Session alone: an MQTT 3.1.1 client that keeps up (never congested or saturated) and
 * has nothing to re-send. `overrides` replaces any part (what a PUBLISH or `settled` records, say).
 */
export function testLink(overrides: Partial<SessionLink> = {}): SessionLink {
  return {
    writePublish: () => {},
    v5: null,
    writeAck: () => {},
    congested: false,
    saturated: () => false,
    unsentBytes: 0,
    settled: () => {},
    isClosed: false,
    close: () => {},
    resendablePublishes: () => [],
    ...overrides,
  };
}
