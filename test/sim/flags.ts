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
 * for its finding is merged, and run `npm run sim -- --seeds 1000 --faults <kind>` first.
 */
export const CI_FAULTS: FaultFlags = {
  // ON, although it is not clean: finding S8 (a forward in flight while its session goes offline is stored
  // after a newer message: order) shows in 2 of 1,000 seeds (251, 991); the CI seeds 1-60 do not hit it.
  reconnects: true,
  approximateCounts: true,
  // OFF, finding S1: an enqueue for a session that moved to another node comes back "fenced" and is dropped
  // after the publisher's PUBACK.
  takeovers: false,
  // OFF, finding S5: heartbeats wait behind a dead node's cleanup, so the cleaner is judged dead and its queue
  // deleted while it runs (sends accepted for 60 s, then dropped); a dead node's queued messages arrive late.
  crashes: false,
  // OFF, finding S9 (issue window 3): the node dies after the QoS 2 inbound marker is durable and before its
  // forwards were sent; the client resends elsewhere, gets PUBREC, and the message is never routed.
  crashAfterQos2Marker: false,
  // OFF: finds only the late-drain order violations of S5 so far (the Session.hold window was not hit).
  crashInClaim: false,
  // OFF, finding S6: a node paused longer than the TTL is cleaned up under its feet (no epoch bump).
  pauses: false,
  // OFF, not yet run enough to say (new): a node cut off from the store and SQS while its clients reach it.
  partitions: false,
  // OFF, finding S2: a session broadcast is dropped when listNodes fails.
  storeErrors: false,
  // OFF, finding S4: a journal batch retried after a lost reply enqueues twice or strands a message.
  storeLostReplies: false,
  // OFF, finding S7: an outage or stall longer than the TTL makes every node clean up every other.
  storeOutages: false,
  storeStalls: false,
  // OFF, finding S3: a failed DeleteMessageBatch blocks a client's broadcasts for the visibility timeout.
  sqsErrors: false,
};
