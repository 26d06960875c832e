/** Fault kinds. Each is a named flag so that kinds which today's code fails can be kept off in CI. */
export interface FaultFlags {
  /** Clients drop their connection (close) or disconnect normally, and reconnect to a random node. */
  reconnects: boolean;
  /** A client moves to another node while its old connection stays open (take-over across nodes). */
  takeovers: boolean;
  /** A node is SIGKILLed (and a new node started later). */
  crashes: boolean;
  /** A node is SIGKILLed when the store answers its claim of a session (once per run). */
  crashInClaim: boolean;
  /** A node is SIGKILLed right after a QoS 2 inbound marker (inbound2.add) became durable (once per run). */
  crashAfterQos2Marker: boolean;
  /** A node is SIGSTOPped for up to 20 s (longer than the node TTL). */
  pauses: boolean;
  /** A node cannot reach the store nor SQS for up to 20 s; its clients still reach it. */
  partitions: boolean;
  /** Store calls fail before they reach the store. */
  storeErrors: boolean;
  /** Store writes take effect but the reply is lost. */
  storeLostReplies: boolean;
  /** The store is unreachable for up to 8 s (calls fail). */
  storeOutages: boolean;
  /** The store stalls for up to 8 s (calls wait, then complete). */
  storeStalls: boolean;
  /** SQS calls fail (sends also with lost replies) and are retried. */
  sqsErrors: boolean;
  /** GetQueueAttributes may answer 0 while messages exist (what "approximate" allows). */
  approximateCounts: boolean;
}

export const ALL_FAULTS: FaultFlags = {
  reconnects: true,
  takeovers: true,
  crashes: true,
  crashInClaim: true,
  crashAfterQos2Marker: true,
  pauses: true,
  partitions: true,
  storeErrors: true,
  storeLostReplies: true,
  storeOutages: true,
  storeStalls: true,
  sqsErrors: true,
  approximateCounts: true,
};

export const NO_FAULTS: FaultFlags = {
  reconnects: false,
  takeovers: false,
  crashes: false,
  crashInClaim: false,
  crashAfterQos2Marker: false,
  pauses: false,
  partitions: false,
  storeErrors: false,
  storeLostReplies: false,
  storeOutages: false,
  storeStalls: false,
  sqsErrors: false,
  approximateCounts: false,
};

/**
 * The fault kinds CI runs. A kind that today's code fails is OFF here, named with the finding it shows
 * (docs/decisions/023-simulation.md, "What it found": seeds, reproductions, diagnoses). Turn one on once the fix
 * for its finding is merged, and run `npm run sim -- --seeds 1000 --faults <kind>` first. Every kind that is OFF
 * for its order violations alone still runs in CI for losses, QoS 2 duplicates and overlaps (test/sim/sim.test.ts,
 * "under every other fault kind": 20 seeds each with the CI faults).
 */
export const CI_FAULTS: FaultFlags = {
  // ON. With every kind ON here, seeds 1-1,000 showed no loss and no duplicate, and 14 same-topic order violations
  // of finding S8 (90, 160, 168, 283, ...), fixed by decision 031; seeds 1-300 now leave one (87: a third node's
  // message that reached the old holder after the take-over kick). The CI seeds 1-60 are clean.
  reconnects: true,
  approximateCounts: true,
  // ON: finding S3 is fixed (a failed DeleteMessageBatch is retried at once); 1,000 seeds clean alone, and the CI
  // seeds 1-60 clean together with reconnects.
  sqsErrors: true,
  // ON since S1 and S11 (QoS 2 duplicates, decision 025) are fixed. S8's order violations (24, 282, 728, 803 in
  // 1,000 seeds alone) are fixed by decision 031: 300 seeds alone are clean, and so are those four.
  takeovers: true,
  // ON since 2026-12-04 (evening), with the checker rule for decision 038's window (test/sim/window.ts): what was
  // sent to a dead node between its death and a subscriber's claim elsewhere is drained after newer messages reached
  // the subscriber directly; that late delivery, within the bounds the design gives, is not a violation, and every
  // other order violation still is. With the CI faults, seeds 1-1,000: 620 seeds with such late deliveries, 9
  // with order violations outside the window (127, 186, 284, 407, 478, 561, 728, 901, 998: S8's shapes, as 561 of
  // the CI set without crashes), no loss, duplicate or overlap.
  crashes: true,
  // ON since 2026-12-04 (evening), as crashes: seeds 1-1,000 with the CI faults leave 10 seeds with order
  // violations outside the window (87, 96, 215, ...); with crashes too, seeds 1-300 leave one (96).
  crashAfterQos2Marker: true,
  // OFF: clean alone (100 seeds); with the CI faults (seeds 1-100, 2026-12-04) no loss, one overlap (seed 21: a
  // claimer died before its take-over kick; fixed by decision 040), and order. With the window rule, seeds 1-1,000
  // leave 8 seeds with order violations, 38 among them: a message passed on to the node that died in its claim,
  // re-routed by the publisher's node after a newer one went directly (the window by another path, which the rule
  // does not recognise: it judges only copies received from a stopped node's queue).
  crashInClaim: false,
  // OFF: decision 038 put the queues stored while a node was paused back in order (89 -> 32 of 100 seeds); left:
  // decision 038's window. With the CI faults: no loss; the QoS 2 duplicates (seeds 5, 56, 79, 134: a PUBLISH read
  // late by the paused node, S13) are fixed by routing a QoS 2 publish only once its root record was applied.
  pauses: false,
  // OFF (decisions 032, 036): with the CI faults no loss and no overlap in 600 seeds since decision 036 (18 lost, 6
  // overlap before) and, since S13's fix, no QoS 2 duplicate (249 of 300 seeds before); order violations (late
  // drains of a node that was cut off, S8's kind) in almost every seed. With crashes on too: seed 177's overlap is
  // fixed (decision 036's amendment); seeds 1-600 leave order in 194 seeds and one loss (328, not fixed).
  partitions: false,
  // ON since 2026-12-04: 1,000 seeds are clean alone (S2 is gone with the broadcasts); with the other CI faults,
  // seeds 1-1,000 show no loss, duplicate or overlap and 2 seeds with one same-topic order violation each (430 and
  // 914; 9 before decisions 036-041; 596 was a stranded message, fixed by decision 041). Both are S8's third-node
  // shape (decision 031, "What is left"): SQS send retries delayed a publisher node's forward to the subscriber's
  // old holder past its next one to the new holder, and the old holder answered the take-over kick before that
  // forward reached it. The CI seeds are clean.
  storeErrors: true,
  // ON. Finding S4 (a journal batch retried after a lost reply) is fixed (decision 030): seeds 1-300 clean alone.
  // Finding S12 (a claim whose reply is lost: the old holder never kicked, overlap and loss) is fixed (decision
  // 034: the claim carries an id and is repeated). With the CI faults, seeds 1-300 show no overlap, loss or
  // duplicate, and 5 same-topic order violations (90, 93, 123, 160, 168; 90, 160, 168 are S8's, 93 and 123 not
  // diagnosed but the same before the S12 fix); the CI seeds 1-60 are clean.
  storeLostReplies: true,
  // OFF, finding S7 (decision 032): no loss and no overlap in 300 seeds, alone or with the CI faults. The QoS 2
  // duplicates are fixed (S13's root record applied before routing; decision 037's cause 2, PUBREL over a fenced
  // record). Left: order (late deliveries from a node that lost its lease): with the CI faults (storeErrors on),
  // seeds 1-300, outages 10 and stalls 14 seeds, order only.
  storeOutages: false,
  storeStalls: false,
};
